/**
 * The row layout of a channel database: which category holds what, how keys are built, and
 * how every row is checksummed. Rows in the foreign categories (`sds.meta`, `sds.log`) keep
 * the exact nim layout, so their checksums live in rows of their own (`sdstk.sum`); rows in
 * our categories carry a frame: CRC-32 ‖ frame version ‖ insertion sequence ‖ body. Every
 * checksum covers the category and the key as well as the bytes, so a row copied under the
 * wrong key (a misdirected write) fails its check like a flipped bit does.
 */
import { crc32 } from "node:zlib";
import { KEY_PART_BYTES_MAX, keyPart, toKey } from "./keys.js";

/** Every category this toolkit reads or writes. `sds.*` are shared with logos-delivery. */
export const CATEGORY = {
  /** `toKey(channelId)` → `ChannelMeta` (nim snapshot codec). Ours holds the lamport and empty buffers. */
  meta: "sds.meta",
  /** `key(channelId, messageId)` → delivered message, nim wire layout. */
  log: "sds.log",
  /** `key(channelId, messageId)` → framed `UnacknowledgedMessage` (one row per entry). */
  outgoing: "sdstk.out",
  /** `key(channelId, messageId)` → framed `IncomingMessage`. */
  incoming: "sdstk.in",
  /** `key(channelId, messageId)` → framed outgoing repair KV. */
  outgoingRepair: "sdstk.rreq",
  /** `key(channelId, messageId)` → framed incoming repair KV. */
  incomingRepair: "sdstk.rresp",
  /** `key(channelId, messageId)` → framed sparse word diff of the message's bloom filter against a base (see bloom-rows.ts). */
  bloom: "sdstk.bloom",
  /** `key(channelId, messageId)` → framed bloom diff of the filter inside an unacknowledged message's published bytes. */
  wireBloom: "sdstk.wbloom",
  /** `key(channelId, u64 baseSequence)` → framed whole bloom filter that diffs refer to; frame sequence = base sequence. Also the root of `sdstk.bdelta` bases. */
  bloomBase: "sdstk.bbase",
  /** `key(channelId, u64 baseSequence)` → framed bloom base stored as a sparse diff against a whole `sdstk.bbase` row (its root); frame sequence = base sequence. */
  bloomBaseDelta: "sdstk.bdelta",
  /** `key(channelId, messageId)` → framed retrieval hint bytes. */
  hint: "sdstk.hint",
  /** `toKey(channelId)` → framed counters of early builds; read, never written (the counter now rides in `sds.meta` field 100). */
  channel: "sdstk.chan",
  /** `toKey(name)` or `key(channelId, name)` → framed setting bytes. */
  settings: "sdstk.settings",
  /** `key(category, rowKey)` → checksum of a row in an `sds.*` category. */
  sum: "sdstk.sum",
  /** `key(category, rowKey)` → framed copy of a row that failed its checks, set aside by repair. */
  quarantine: "sdstk.quarantine",
} as const;

/** A category name. */
export type CategoryName = (typeof CATEGORY)[keyof typeof CATEGORY];

/** The four per-entry buffer categories, in `ChannelMeta` field order. */
export const BUFFER_CATEGORIES = [CATEGORY.outgoing, CATEGORY.incoming, CATEGORY.outgoingRepair, CATEGORY.incomingRepair] as const;

/** Categories keyed by `key(channelId, …)` or `toKey(channelId)` that belong to one channel. */
export const CHANNEL_CATEGORIES = [CATEGORY.meta, CATEGORY.log, ...BUFFER_CATEGORIES, CATEGORY.bloom, CATEGORY.wireBloom, CATEGORY.bloomBase, CATEGORY.bloomBaseDelta, CATEGORY.hint, CATEGORY.channel] as const;

/** The `sdstk.settings` row that marks a file as written by this toolkit (value: format version). */
export const FORMAT_SETTING = "format";
/** Current value of the format setting. */
export const FORMAT_VERSION = 1;
/** The `sdstk.settings` row naming the process that holds the writer lock (informational). */
export const OWNER_SETTING = "owner";

const utf8 = new TextEncoder();
const categoryBytes = new Map<string, Uint8Array>();

/** UTF-8 bytes of a category, as stored in the `category` BLOB column (cached). */
export function categoryBlob(category: string): Uint8Array {
  let bytes = categoryBytes.get(category);
  if (bytes === undefined) {
    bytes = utf8.encode(category);
    categoryBytes.set(category, bytes);
  }
  return bytes;
}

/** Bytes of each shared block row keys are cut from (see {@link keyBytes}). */
const KEY_SLAB_BYTES = 16_384;
let keySlab = new Uint8Array(0);
let keySlabAt = 0;

/**
 * Room for a row key of `length` bytes, cut from a shared block: a typed array of more than
 * 64 bytes (a 72-byte message key, an 81-byte checksum key) otherwise gets a backing store of
 * its own outside the heap, which costs about as much as everything else done for the key, and
 * a group commit builds several per message. Keys are never written after they are built, so
 * views of one block never disturb each other; a key kept long holds its 16 KB block.
 */
function keyBytes(length: number): Uint8Array {
  if (length > KEY_SLAB_BYTES / 8) return new Uint8Array(length);
  if (keySlabAt + length > keySlab.length) {
    keySlab = new Uint8Array(KEY_SLAB_BYTES);
    keySlabAt = 0;
  }
  const out = keySlab.subarray(keySlabAt, keySlabAt + length);
  keySlabAt += length;
  return out;
}

/** `key(channelId, messageId)`: the key of every per-message row (never mutate it: it may share its buffer). */
export function messageKey(channelId: string, messageId: string): Uint8Array {
  const channel = channelKey(channelId);
  const length = messageId.length;
  if (length <= KEY_PART_BYTES_MAX) {
    // ASCII ids (the usual hex ones): written in place, one allocation
    const out = keyBytes(channel.length + 2 + length);
    out.set(channel);
    out[channel.length] = length >> 8;
    out[channel.length + 1] = length & 0xff;
    let index = 0;
    for (; index < length; index++) {
      const code = messageId.charCodeAt(index);
      if (code >= 0x80) break;
      out[channel.length + 2 + index] = code;
    }
    if (index === length) return out;
  }
  const message = keyPart.string(messageId);
  const out = new Uint8Array(channel.length + message.length);
  out.set(channel);
  out.set(message, channel.length);
  return out;
}

let lastChannelId: string | undefined;
let lastChannelKey: Uint8Array = new Uint8Array();

/** `toKey(channelId)`: the key of per-channel rows and the prefix of per-message rows (last one cached; never mutate it). */
export function channelKey(channelId: string): Uint8Array {
  if (channelId !== lastChannelId) {
    lastChannelKey = toKey(channelId);
    lastChannelId = channelId;
  }
  return lastChannelKey;
}

/** `key(category, rowKey)`: the key of a checksum or quarantine row about another row (never mutate it: it may share its buffer). */
export function aboutKey(category: string, rowKey: Uint8Array): Uint8Array {
  let prefix = categoryKeyParts.get(category);
  if (prefix === undefined) {
    prefix = keyPart.string(category);
    categoryKeyParts.set(category, prefix);
  }
  const out = keyBytes(prefix.length + rowKey.length); // key(prefix, rowKey), without the generic concatenation
  out.set(prefix);
  out.set(rowKey, prefix.length);
  return out;
}

const categoryKeyParts = new Map<string, Uint8Array>();
const categoryCrcs = new Map<string, number>();

function checksum(category: string, rowKey: Uint8Array, bytes: Uint8Array): number {
  let seed = categoryCrcs.get(category);
  if (seed === undefined) {
    seed = crc32(categoryBlob(category));
    categoryCrcs.set(category, seed);
  }
  return crc32(bytes, crc32(rowKey, seed));
}

/** Current frame version of our rows. */
export const FRAME_VERSION = 1;
/** Bytes before the body of a framed row: crc32 (4) ‖ version (1) ‖ sequence (8). */
export const FRAME_HEADER_BYTES = 13;

/** Frames a body for a row of ours: the checksum binds category, key, version, sequence and body. */
export function frameRow(category: string, rowKey: Uint8Array, sequence: bigint, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + body.length);
  out.set(body, FRAME_HEADER_BYTES);
  return frameInPlace(category, rowKey, sequence, out);
}

/**
 * Frames a row whose body was written after {@link FRAME_HEADER_BYTES} bytes reserved at the
 * start of `row` (the same bytes as {@link frameRow} of that body, without copying it); returns `row`.
 */
export function frameInPlace(category: string, rowKey: Uint8Array, sequence: bigint, row: Uint8Array): Uint8Array {
  const view = new DataView(row.buffer, row.byteOffset, row.byteLength);
  row[4] = FRAME_VERSION;
  view.setBigUint64(5, sequence, false);
  view.setUint32(0, checksum(category, rowKey, row.subarray(4)), false);
  return row;
}

/** A framed row that passed its checks, or why it did not. */
export type Unframed = { ok: true; sequence: bigint; body: Uint8Array } | { ok: false; reason: string };

/** Checks and opens a framed row. Never throws. */
export function unframeRow(category: string, rowKey: Uint8Array, payload: Uint8Array): Unframed {
  if (payload.length < FRAME_HEADER_BYTES) return { ok: false, reason: `row is ${payload.length} bytes, shorter than its ${FRAME_HEADER_BYTES}-byte frame header` };
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const stored = view.getUint32(0, false);
  const actual = checksum(category, rowKey, payload.subarray(4));
  if (stored !== actual) return { ok: false, reason: `checksum mismatch (stored ${hex32(stored)}, computed ${hex32(actual)})` };
  if (payload[4] !== FRAME_VERSION) return { ok: false, reason: `unknown frame version ${payload[4]}` };
  return { ok: true, sequence: view.getBigUint64(5, false), body: payload.subarray(FRAME_HEADER_BYTES) };
}

/** Reads only the sequence of a framed row (after its checksum was verified elsewhere or not needed). */
export function frameSequence(payload: Uint8Array): bigint | undefined {
  if (payload.length < FRAME_HEADER_BYTES) return undefined;
  return new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getBigUint64(5, false);
}

/** Bytes of a checksum row: crc of the data row ‖ absence flags ‖ crc of these five bytes. */
export const SUM_ROW_BYTES = 9;

/** Builds the `sdstk.sum` row for a row of an `sds.*` category. `flags` are message absence flags. */
export function sumRow(category: string, rowKey: Uint8Array, payload: Uint8Array, flags = 0): { key: Uint8Array; payload: Uint8Array } {
  const sumKey = aboutKey(category, rowKey);
  const out = new Uint8Array(SUM_ROW_BYTES);
  putUint32(out, 0, checksum(category, rowKey, payload));
  out[4] = flags;
  putUint32(out, 5, checksum(CATEGORY.sum, sumKey, out.subarray(0, 5)));
  return { key: sumKey, payload: out };
}

/** Writes `value` as 4 big-endian bytes at `at` (no DataView per row). */
function putUint32(out: Uint8Array, at: number, value: number): void {
  out[at] = value >>> 24;
  out[at + 1] = (value >>> 16) & 0xff;
  out[at + 2] = (value >>> 8) & 0xff;
  out[at + 3] = value & 0xff;
}

/** Result of checking a data row against its checksum row. */
export type SumCheck = { ok: true; flags: number } | { ok: false; reason: string; sumRowBad: boolean };

/** Checks an `sds.*` row against its `sdstk.sum` row. `sumRowBad` says the sum row itself is damaged. */
export function checkSum(category: string, rowKey: Uint8Array, payload: Uint8Array, sumPayload: Uint8Array | undefined): SumCheck {
  if (sumPayload === undefined) return { ok: false, reason: "checksum row is missing", sumRowBad: true };
  if (sumPayload.length !== SUM_ROW_BYTES) return { ok: false, reason: `checksum row is ${sumPayload.length} bytes, not ${SUM_ROW_BYTES}`, sumRowBad: true };
  const view = new DataView(sumPayload.buffer, sumPayload.byteOffset, sumPayload.byteLength);
  const sumKey = aboutKey(category, rowKey);
  if (view.getUint32(5, false) !== checksum(CATEGORY.sum, sumKey, sumPayload.subarray(0, 5))) return { ok: false, reason: "checksum row fails its own check", sumRowBad: true };
  const stored = view.getUint32(0, false);
  const actual = checksum(category, rowKey, payload);
  if (stored !== actual) return { ok: false, reason: `checksum mismatch (stored ${hex32(stored)}, computed ${hex32(actual)})`, sumRowBad: false };
  return { ok: true, flags: sumPayload[4] as number };
}

function hex32(value: number): string {
  return value.toString(16).padStart(8, "0");
}
