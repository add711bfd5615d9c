/**
 * Codecs of the four buffer entries of a nim `ChannelMeta` (UnacknowledgedMessage,
 * IncomingMessage, OutgoingRepairKV, IncomingRepairKV), also the bodies of our per-entry
 * rows. Row-only options let an outgoing row refer to its `sds.log` row and keep the
 * published bytes around the bloom filter instead of storing them twice.
 */
import { DecodeError } from "../errors.js";
import { ProtoReader, type ProtoTag, ProtoWriter, WireType } from "../protocol/wire/proto.js";
import type { HistoryEntry, SdsMessage } from "../protocol/types.js";
import type { IncomingMessage, IncomingRepairEntry, OutgoingRepairEntry, UnacknowledgedMessage } from "./contract.js";
import {
  EXT,
  type SnapshotDecodeContext,
  applyAbsenceFlags,
  decodeEmbeddedMessage,
  decodeHistoryEntry,
  embedded,
  encodeHistoryEntry,
  encodeNimMessage,
  expect,
  messageAbsenceFlags,
  missing,
  readString,
  varintNumber,
} from "./snapshot-fields.js";

/** How an `UnacknowledgedMessage` row avoids storing bytes twice (our rows only, never blobs). */
export interface UnacknowledgedRowOptions {
  /** The message's nim bytes, when already encoded. */
  messageBytes?: Uint8Array;
  /** The identical message is in the channel's `sds.log` row: store a reference, not the bytes. */
  messageInLog?: boolean;
  /** Store `wire` as prefix and suffix around the message's bloom filter bytes when it holds them. */
  splitWire?: boolean;
  /** The bloom filter at `wire[at, at + length)` is kept in `sdstk.wbloom`: store only prefix and suffix. */
  wireBloom?: { at: number; length: number };
  /**
   * The bloom filter at `wire[at, at + length)` is stored as `diff` (a bloom diff body against
   * a base in `sdstk.bbase`) inside this row (field 124): prefix, suffix and diff, no row of its own.
   */
  wireBloomDiff?: { at: number; length: number; diff: Uint8Array };
}

/** Field of an `UnacknowledgedMessage` row body holding the inline bloom diff of its published bytes. */
export const WIRE_BLOOM_DIFF_FIELD = EXT + 24;

/** Where a message's bloom filter bytes sit inside `wire`, if they do (worth splitting only when large). */
export function bloomOffsetInWire(message: SdsMessage, wire: Uint8Array): number {
  const bloom = message.bloomFilter;
  if (bloom == null || bloom.length < 64 || wire.length < bloom.length) return -1;
  return Buffer.from(wire.buffer, wire.byteOffset, wire.byteLength).indexOf(Buffer.from(bloom.buffer, bloom.byteOffset, bloom.byteLength));
}

/** Sub-message codec of `ChannelMeta`, also the body of our per-entry rows (see {@link UnacknowledgedRowOptions}). */
export function encodeUnacknowledged(entry: UnacknowledgedMessage, options: UnacknowledgedRowOptions = {}): Uint8Array {
  return encodeUnacknowledgedAfter(entry, options, 0);
}

/**
 * {@link encodeUnacknowledged} into one exactly sized array that starts with `reserveBytes`
 * zero bytes left for the caller (a row's frame header), so a row is built without a growing
 * writer, a trimming copy or a framing copy.
 */
export function encodeUnacknowledgedAfter(entry: UnacknowledgedMessage, options: UnacknowledgedRowOptions, reserveBytes: number): Uint8Array {
  const fields: RowField[] = [];
  if (options.messageInLog === true) fields.push({ field: EXT + 20, value: 1 });
  else fields.push({ field: 1, bytes: options.messageBytes ?? encodeNimMessage(entry.message) });
  fields.push({ field: 2, value: entry.sendTimeMs }, { field: 3, value: entry.resendAttempts });
  const presence = messageAbsenceFlags(entry.message);
  if (presence !== 0) fields.push({ field: EXT + 10, value: presence });
  if (entry.possibleAckCount != null) fields.push({ field: EXT, value: entry.possibleAckCount });
  const wire = entry.wire;
  if (wire != null && options.wireBloomDiff !== undefined) {
    const { at, length, diff } = options.wireBloomDiff;
    fields.push({ field: EXT + 21, bytes: wire.subarray(0, at) }, { field: EXT + 22, bytes: wire.subarray(at + length) }, { field: WIRE_BLOOM_DIFF_FIELD, bytes: diff });
  } else if (wire != null && options.wireBloom !== undefined) {
    const { at, length } = options.wireBloom;
    fields.push({ field: EXT + 21, bytes: wire.subarray(0, at) }, { field: EXT + 22, bytes: wire.subarray(at + length) }, { field: EXT + 23, value: 1 });
  } else if (wire != null) {
    const at = options.splitWire === true ? bloomOffsetInWire(entry.message, wire) : -1;
    if (at < 0) fields.push({ field: EXT + 1, bytes: wire });
    else fields.push({ field: EXT + 21, bytes: wire.subarray(0, at) }, { field: EXT + 22, bytes: wire.subarray(at + (entry.message.bloomFilter as Uint8Array).length) });
  }
  return writeFields(fields, reserveBytes);
}

/** A `uint64` (wire type 0) or `bytes` (wire type 2) field of a row body. */
type RowField = { field: number; value: number | bigint } | { field: number; bytes: Uint8Array };

/** Bytes of the varint of `value`, checked like `ProtoWriter` (RangeError: a caller bug). */
function varintBytes(value: number | bigint): number {
  if (typeof value === "bigint") {
    if (value < 0n || value >= 1n << 64n) throw new RangeError(`varint out of uint64 range: ${value}`);
    let bytes = 1;
    for (let rest = value >> 7n; rest > 0n; rest >>= 7n) bytes += 1;
    return bytes;
  }
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`invalid varint ${value}`);
  let bytes = 1;
  for (let rest = value; rest >= 0x80; rest = Math.floor(rest / 0x80)) bytes += 1;
  return bytes;
}

function putVarint(out: Uint8Array, at: number, value: number | bigint): number {
  if (typeof value === "bigint") {
    let rest = value;
    while (rest >= 0x80n) {
      out[at++] = Number(rest & 0x7fn) | 0x80;
      rest >>= 7n;
    }
    out[at++] = Number(rest);
    return at;
  }
  let rest = value;
  while (rest >= 0x80) {
    out[at++] = (rest % 0x80) | 0x80;
    rest = Math.floor(rest / 0x80);
  }
  out[at++] = rest;
  return at;
}

/** The fields in order (canonical protobuf, the bytes `ProtoWriter` writes), after `reserveBytes` zero bytes. */
function writeFields(fields: readonly RowField[], reserveBytes: number): Uint8Array {
  let size = reserveBytes;
  for (const item of fields) {
    if ("bytes" in item) size += varintBytes(item.field * 8 + WireType.LengthDelimited) + varintBytes(item.bytes.length) + item.bytes.length;
    else size += varintBytes(item.field * 8 + WireType.Varint) + varintBytes(item.value);
  }
  const out = new Uint8Array(size);
  let at = reserveBytes;
  for (const item of fields) {
    if ("bytes" in item) {
      at = putVarint(out, at, item.field * 8 + WireType.LengthDelimited);
      at = putVarint(out, at, item.bytes.length);
      out.set(item.bytes, at);
      at += item.bytes.length;
    } else {
      at = putVarint(out, at, item.field * 8 + WireType.Varint);
      at = putVarint(out, at, item.value);
    }
  }
  return out;
}

/** Sub-message codec of `ChannelMeta`, also the body of our per-entry rows. */
export function decodeUnacknowledged(bytes: Uint8Array, base: number, field: string, ctx: SnapshotDecodeContext): UnacknowledgedMessage {
  const reader = new ProtoReader(bytes, { baseOffset: base });
  let message: SdsMessage | undefined;
  let sendTimeMs: number | undefined;
  const out: Partial<UnacknowledgedMessage> = { resendAttempts: 0 };
  let absence = 0;
  let inLog = false;
  let wireParts: [Uint8Array | undefined, Uint8Array | undefined] = [undefined, undefined];
  let wireBloomInRows = false;
  let inlineDiff: Uint8Array | undefined;
  while (!reader.eof()) {
    const tag = reader.readTag(field);
    if (tag.field === 1) {
      const inner = embedded(reader, tag, `${field}.message`);
      message = decodeEmbeddedMessage(inner.bytes, inner.base, `${field}.message`, ctx);
    } else if (tag.field === 2) sendTimeMs = varintNumber(reader, tag, `${field}.sendTime`);
    else if (tag.field === 3) out.resendAttempts = varintNumber(reader, tag, `${field}.resendAttempts`);
    else if (tag.field === EXT) out.possibleAckCount = varintNumber(reader, tag, `${field}.possibleAckCount`);
    else if (tag.field === EXT + 1) out.wire = embedded(reader, tag, `${field}.wire`).bytes.slice();
    else if (tag.field === EXT + 10) absence = varintNumber(reader, tag, `${field}.absence`);
    else if (tag.field === EXT + 20) inLog = varintNumber(reader, tag, `${field}.messageInLog`) === 1;
    else if (tag.field === EXT + 21) wireParts = [embedded(reader, tag, `${field}.wirePrefix`).bytes, wireParts[1]];
    else if (tag.field === EXT + 22) wireParts = [wireParts[0], embedded(reader, tag, `${field}.wireSuffix`).bytes];
    else if (tag.field === EXT + 23) wireBloomInRows = varintNumber(reader, tag, `${field}.wireBloomInRows`) === 1;
    else if (tag.field === WIRE_BLOOM_DIFF_FIELD) inlineDiff = embedded(reader, tag, `${field}.wireBloomDiff`).bytes;
    else reader.skip(tag.wireType, `${field}.field${tag.field}`);
  }
  const end = base + bytes.length;
  if (message === undefined && inLog) {
    message = ctx.resolveMessage?.();
    if (message === undefined) throw new DecodeError("E_DECODE_MISSING_FIELD", "the message this entry refers to is not in sds.log", { field: `${field}.message`, offset: end });
  }
  if (message === undefined) throw new DecodeError("E_DECODE_MISSING_FIELD", "required field 1 is missing", { field: `${field}.message`, offset: end });
  if (wireParts[0] !== undefined || wireParts[1] !== undefined) {
    const bloom = inlineDiff !== undefined ? ctx.resolveWireBloom?.(inlineDiff) : wireBloomInRows ? ctx.resolveWireBloom?.() : message.bloomFilter;
    if (wireParts[0] === undefined || wireParts[1] === undefined || bloom == null) {
      const why = inlineDiff !== undefined ? "the bloom filter of the published bytes cannot be rebuilt from its diff and base" : wireBloomInRows ? "the bloom filter of the published bytes is not in sdstk.wbloom" : "split wire bytes are incomplete";
      throw new DecodeError("E_DECODE_MISSING_FIELD", why, { field: `${field}.wire`, offset: end });
    }
    const wire = new Uint8Array(wireParts[0].length + bloom.length + wireParts[1].length);
    wire.set(wireParts[0]);
    wire.set(bloom, wireParts[0].length);
    wire.set(wireParts[1], wireParts[0].length + bloom.length);
    out.wire = wire;
  }
  if (sendTimeMs === undefined) throw new DecodeError("E_DECODE_MISSING_FIELD", "required field 2 is missing", { field: `${field}.sendTime`, offset: end });
  return { ...out, message: applyAbsenceFlags(message, absence), sendTimeMs, resendAttempts: out.resendAttempts ?? 0 };
}

/** The inline bloom diff (field 124) of an `UnacknowledgedMessage` row body, if it has one. Throws DecodeError on damage. */
export function unacknowledgedWireDiff(bytes: Uint8Array): Uint8Array | undefined {
  const reader = new ProtoReader(bytes);
  let diff: Uint8Array | undefined;
  while (!reader.eof()) {
    const tag = reader.readTag("UnacknowledgedMessage");
    if (tag.field === WIRE_BLOOM_DIFF_FIELD) diff = embedded(reader, tag, "UnacknowledgedMessage.wireBloomDiff").bytes;
    else reader.skip(tag.wireType, `UnacknowledgedMessage.field${tag.field}`);
  }
  return diff;
}

/** Sub-message codec of `ChannelMeta`, also the body of our per-entry rows. */
export function encodeIncoming(entry: IncomingMessage): Uint8Array {
  const writer = new ProtoWriter().bytesField(1, encodeNimMessage(entry.message));
  for (const dep of entry.missingDeps) writer.stringField(2, dep);
  if (entry.receivedAtMs != null) writer.uint64Field(EXT, entry.receivedAtMs);
  if (entry.retrievalHint != null) writer.bytesField(EXT + 1, entry.retrievalHint);
  const presence = messageAbsenceFlags(entry.message);
  if (presence !== 0) writer.uint64Field(EXT + 10, presence);
  return writer.finish();
}

/** Sub-message codec of `ChannelMeta`, also the body of our per-entry rows. */
export function decodeIncoming(bytes: Uint8Array, base: number, field: string, ctx: SnapshotDecodeContext): IncomingMessage {
  const reader = new ProtoReader(bytes, { baseOffset: base });
  let message: SdsMessage | undefined;
  const out: Partial<IncomingMessage> = {};
  const missingDeps: string[] = [];
  let absence = 0;
  while (!reader.eof()) {
    const tag = reader.readTag(field);
    if (tag.field === 1) {
      const inner = embedded(reader, tag, `${field}.message`);
      message = decodeEmbeddedMessage(inner.bytes, inner.base, `${field}.message`, ctx);
    } else if (tag.field === 2) {
      expect(tag, WireType.LengthDelimited, `${field}.missingDeps`);
      if (missingDeps.length >= ctx.limits.bufferEntriesMax) throw new DecodeError("E_DECODE_LIMIT", "too many missingDeps", { field: `${field}.missingDeps`, offset: tag.offset });
      missingDeps.push(readString(reader, `${field}.missingDeps[${missingDeps.length}]`));
    } else if (tag.field === EXT) out.receivedAtMs = varintNumber(reader, tag, `${field}.receivedAtMs`);
    else if (tag.field === EXT + 1) out.retrievalHint = embedded(reader, tag, `${field}.retrievalHint`).bytes.slice();
    else if (tag.field === EXT + 10) absence = varintNumber(reader, tag, `${field}.absence`);
    else reader.skip(tag.wireType, `${field}.field${tag.field}`);
  }
  if (message === undefined) throw new DecodeError("E_DECODE_MISSING_FIELD", "required field 1 is missing", { field: `${field}.message`, offset: base + bytes.length });
  return { ...out, message: applyAbsenceFlags(message, absence), missingDeps };
}

/** Sub-message codec of `ChannelMeta`, also the body of our per-entry rows. */
export function encodeOutgoingRepair(entry: OutgoingRepairEntry): Uint8Array {
  const inner = new ProtoWriter().bytesField(1, encodeHistoryEntry(entry.entry)).uint64Field(2, entry.minTimeRepairReqMs);
  if (entry.attempts != null) inner.uint64Field(EXT, entry.attempts);
  if (entry.firstMissingAtMs != null) inner.uint64Field(EXT + 1, entry.firstMissingAtMs);
  return new ProtoWriter().stringField(1, entry.entry.messageId).bytesField(2, inner.finish()).finish();
}

/** Sub-message codec of `ChannelMeta`, also the body of our per-entry rows. */
export function encodeIncomingRepair(entry: IncomingRepairEntry): Uint8Array {
  const inner = new ProtoWriter().bytesField(1, encodeHistoryEntry(entry.entry)).bytesField(2, entry.cachedMessage).uint64Field(3, entry.minTimeRepairRespMs);
  return new ProtoWriter().stringField(1, entry.entry.messageId).bytesField(2, inner.finish()).finish();
}

/** Decodes a repair KV (`{1: messageId, 2: entry}`) and its entry with `decodeEntry`. */
function decodeRepairKv<T>(bytes: Uint8Array, base: number, field: string, decodeEntry: (reader: ProtoReader, tag: ProtoTag, values: Record<string, unknown>) => void, build: (values: Record<string, unknown>, end: number) => T): T {
  const reader = new ProtoReader(bytes, { baseOffset: base });
  let messageId: string | undefined;
  let entryBytes: { bytes: Uint8Array; base: number } | undefined;
  while (!reader.eof()) {
    const tag = reader.readTag(field);
    if (tag.field === 1) messageId = (expect(tag, WireType.LengthDelimited, `${field}.messageId`), readString(reader, `${field}.messageId`));
    else if (tag.field === 2) entryBytes = embedded(reader, tag, `${field}.entry`);
    else reader.skip(tag.wireType, `${field}.field${tag.field}`);
  }
  const end = base + bytes.length;
  if (messageId === undefined) throw new DecodeError("E_DECODE_MISSING_FIELD", "required field 1 is missing", { field: `${field}.messageId`, offset: end });
  if (entryBytes === undefined) throw new DecodeError("E_DECODE_MISSING_FIELD", "required field 2 is missing", { field: `${field}.entry`, offset: end });
  const inner = new ProtoReader(entryBytes.bytes, { baseOffset: entryBytes.base });
  const values: Record<string, unknown> = { messageId };
  while (!inner.eof()) decodeEntry(inner, inner.readTag(`${field}.entry`), values);
  return build(values, entryBytes.base + entryBytes.bytes.length);
}


/** Sub-message codec of `ChannelMeta`, also the body of our per-entry rows. */
export function decodeOutgoingRepair(bytes: Uint8Array, base: number, field: string): OutgoingRepairEntry {
  return decodeRepairKv(
    bytes,
    base,
    field,
    (reader, tag, values) => {
      if (tag.field === 1) {
        const inner = embedded(reader, tag, `${field}.histEntry`);
        values.entry = decodeHistoryEntry(inner.bytes, inner.base, `${field}.histEntry`);
      } else if (tag.field === 2) values.minTimeRepairReqMs = varintNumber(reader, tag, `${field}.minTimeRepairReq`);
      else if (tag.field === EXT) values.attempts = varintNumber(reader, tag, `${field}.attempts`);
      else if (tag.field === EXT + 1) values.firstMissingAtMs = varintNumber(reader, tag, `${field}.firstMissingAtMs`);
      else reader.skip(tag.wireType, `${field}.entry.field${tag.field}`);
    },
    (values, end) => {
      if (values.entry === undefined) throw missing(`${field}.histEntry`, end);
      if (values.minTimeRepairReqMs === undefined) throw missing(`${field}.minTimeRepairReq`, end);
      const out: OutgoingRepairEntry = { entry: values.entry as HistoryEntry, minTimeRepairReqMs: values.minTimeRepairReqMs as number };
      if (values.attempts !== undefined) out.attempts = values.attempts as number;
      if (values.firstMissingAtMs !== undefined) out.firstMissingAtMs = values.firstMissingAtMs as number;
      return out;
    },
  );
}

/** Sub-message codec of `ChannelMeta`, also the body of our per-entry rows. */
export function decodeIncomingRepair(bytes: Uint8Array, base: number, field: string): IncomingRepairEntry {
  return decodeRepairKv(
    bytes,
    base,
    field,
    (reader, tag, values) => {
      if (tag.field === 1) {
        const inner = embedded(reader, tag, `${field}.histEntry`);
        values.entry = decodeHistoryEntry(inner.bytes, inner.base, `${field}.histEntry`);
      } else if (tag.field === 2) values.cachedMessage = embedded(reader, tag, `${field}.cachedMessage`).bytes.slice();
      else if (tag.field === 3) values.minTimeRepairRespMs = varintNumber(reader, tag, `${field}.minTimeRepairResp`);
      else reader.skip(tag.wireType, `${field}.entry.field${tag.field}`);
    },
    (values, end) => {
      if (values.entry === undefined) throw missing(`${field}.histEntry`, end);
      if (values.cachedMessage === undefined) throw missing(`${field}.cachedMessage`, end);
      if (values.minTimeRepairRespMs === undefined) throw missing(`${field}.minTimeRepairResp`, end);
      return { entry: values.entry as HistoryEntry, cachedMessage: values.cachedMessage as Uint8Array, minTimeRepairRespMs: values.minTimeRepairRespMs as number };
    },
  );
}

