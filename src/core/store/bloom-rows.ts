/**
 * Delta-encoded bloom filters. A spec-dialect message carries an ~18.7 KB bloom filter, and
 * consecutive messages of one sender differ in a few words (k bits per new id), so storing
 * every filter whole would make a bulk send write ~19 KB per message. Instead, a large
 * filter is kept out of the message's `sds.log` row (the row holds the nim layout without
 * the filter; its checksum row carries {@link BLOOM_IN_ROWS}) and stored as a sparse word
 * diff (`sdstk.bloom`, one framed row per message) against a base filter shared by a run of
 * one sender's messages (bloom-bases.ts: a whole `sdstk.bbase` row, or an `sdstk.bdelta` diff
 * against such a root). A new base is written when the diff grows past {@link diffPairsMax}
 * or the length changes. Reading rebuilds the exact filter bytes, so resends re-publish the
 * same wire bytes. The diff codec itself is bloom-diff.ts.
 */
import { StoreError } from "../errors.js";
import { type BaseBook, baseKey, dropUnreferencedBases, readBase, releaseBase, scanBases, writeBase } from "./bloom-bases.js";
import { type BloomDiff, WORD_BYTES, alignedCopy, applyDiff, decodeBloomDiff, encodeDiffFrom, mergeChanged } from "./bloom-diff.js";
import { changedWordsSince } from "./bloom-scan.js";
import { decodeStringKey } from "./keys.js";
import { CATEGORY, channelKey, frameRow, messageKey, unframeRow } from "./rows.js";
import { unacknowledgedWireDiff } from "./snapshot-entries.js";
import type { Kv } from "./sqlite-db.js";

/** Filters shorter than this stay inside the `sds.log` row (a diff would not pay). */
export const BLOOM_ROW_MIN_BYTES = 512;
/** Absence-flag bit in an `sds.log` checksum row: the filter is in `sdstk.bloom`, not in the row. */
export const BLOOM_IN_ROWS = 4;

/**
 * Most changed words a diff may hold before a new base is written: about 1/64 of the filter
 * (74 words of a spec filter, a new base every ~7 messages of a busy sender). A smaller bound
 * means more base rows but smaller diffs, and the diff rides in every outgoing row: at 1/16
 * those rows averaged ~1,070 bytes, past what a 4 KB SQLite page keeps in its cell. Readers
 * accept any diff size.
 */
export function diffPairsMax(bloomBytes: number): number {
  return Math.max(8, Math.ceil(bloomBytes / WORD_BYTES / 64));
}

export { baseKey };

/** The two categories of diff rows: history messages' filters and the filters inside published bytes. */
export type DiffCategory = typeof CATEGORY.bloom | typeof CATEGORY.wireBloom;
const DIFF_CATEGORIES: readonly DiffCategory[] = [CATEGORY.bloom, CATEGORY.wireBloom];
/** Rows that refer to a base: diff rows, and outgoing rows carrying their published filter's diff inline (field 124). */
export type BloomRefCategory = DiffCategory | typeof CATEGORY.outgoing;

/**
 * Where the bloom filter field sits in published bytes (spec field 12 or nim field 6, at
 * least {@link BLOOM_ROW_MIN_BYTES}), found by walking the top-level fields; undefined when none.
 */
export function wireBloomRange(wire: Uint8Array): { at: number; length: number } | undefined {
  // a plain walk over the top-level keys (no reader objects): a bulk send calls this per message
  let at = 0;
  const end = wire.length;
  const varint = (): number => {
    let value = 0;
    let scale = 1;
    for (let shift = 0; shift < 64; shift += 7) {
      if (at >= end) return -1;
      const byte = wire[at++] as number;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    return -1;
  };
  while (at < end) {
    const tag = varint();
    if (tag < 8) return undefined; // truncated, or field 0: not protobuf we can walk, keep the bytes whole
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (wireType === 0) {
      if (varint() < 0) return undefined;
    } else if (wireType === 1 || wireType === 5) {
      at += wireType === 1 ? 8 : 4;
    } else if (wireType === 2) {
      const length = varint();
      if (length < 0 || length > end - at) return undefined;
      if ((field === 12 || field === 6) && length >= BLOOM_ROW_MIN_BYTES) return { at, length };
      at += length;
    } else return undefined;
  }
  return undefined;
}

/** Per-channel bloom write state, cached by the single writer (rebuilt by {@link loadBloomState}). */
export interface BloomWriteState extends BaseBook {
  /**
   * Current base per sender id: its bytes, a word-aligned copy padded to whole words, the
   * sender's last filter diffed against it (aligned) and the words where that filter differs
   * from the base, ascending (so the next filter is compared with the last one, not the base);
   * `previousToken` names that last filter for bloom-scan.ts (a new object per filter).
   */
  current: Map<string, { sequence: bigint; bytes: Uint8Array; aligned: Uint8Array; previous: Uint8Array; previousToken: object; changed: number[] }>;
  /** Base sequence of each referring row, by category, then message id (no key strings built per lookup). */
  baseOf: Map<BloomRefCategory, Map<string, bigint>>;
  /** Reused word-aligned copy of the filter being stored (see `alignedCopy`); never read across calls. */
  scratch?: Uint8Array;
}

function corrupt(message: string): StoreError {
  return new StoreError("E_STORE_CORRUPT", `${message} (run \`sds inspect-db --repair\`)`);
}

/**
 * Rebuilds a channel's write state from its rows; deletes bases nothing refers to (and roots
 * no base refers to), appending them to `deleted` when given. Throws on damaged rows.
 */
export function loadBloomState(kv: Kv, channelId: string, deleted?: Array<{ category: string; rowKey: Uint8Array }>): BloomWriteState {
  const state: BloomWriteState = {
    nextBaseSequence: 1n,
    current: new Map(),
    references: new Map(),
    rootOf: new Map(),
    roots: new Map(),
    baseOf: new Map([[CATEGORY.bloom, new Map()], [CATEGORY.wireBloom, new Map()], [CATEGORY.outgoing, new Map()]]),
  };
  const bases = scanBases(kv, state, channelId);
  for (const category of DIFF_CATEGORIES) for (const row of kv.scanPrefix(category, channelKey(channelId))) {
    const opened = unframeRow(category, row.key, row.payload);
    const id = decodeStringKey(row.key, 2)?.[1];
    if (!opened.ok || id === undefined) throw corrupt(`sdstk.bloom row of ${channelId}: ${opened.ok ? "bad key" : opened.reason}`);
    let base: bigint;
    try {
      base = decodeBloomDiff(opened.body).baseSequence;
    } catch (error) {
      throw corrupt(`sdstk.bloom row of ${channelId}/${id} does not decode: ${error instanceof Error ? error.message : String(error)}`);
    }
    addReference(state, category, id, base);
  }
  for (const row of kv.scanPrefix(CATEGORY.outgoing, channelKey(channelId))) {
    const opened = unframeRow(CATEGORY.outgoing, row.key, row.payload);
    const id = decodeStringKey(row.key, 2)?.[1];
    if (!opened.ok || id === undefined) throw corrupt(`sdstk.out row of ${channelId}: ${opened.ok ? "bad key" : opened.reason}`);
    let base: bigint;
    try {
      const inline = unacknowledgedWireDiff(opened.body);
      if (inline === undefined) continue;
      base = decodeBloomDiff(inline).baseSequence;
    } catch (error) {
      throw corrupt(`sdstk.out row of ${channelId}/${id} does not decode: ${error instanceof Error ? error.message : String(error)}`);
    }
    addReference(state, CATEGORY.outgoing, id, base);
  }
  const dropped = dropUnreferencedBases(kv, state, channelId, bases);
  deleted?.push(...dropped);
  return state;
}

/**
 * Diffs `filter` against the sender's current base, writing a new base row first when there
 * is none, the length changed or the diff would hold more than {@link diffPairsMax} words.
 * Returns the base sequence and the diff body.
 */
function diffAgainstBase(kv: Kv, state: BloomWriteState, channelId: string, senderId: string, filter: Uint8Array): { sequence: bigint; body: Uint8Array } {
  const aligned = alignedCopy(filter, state.scratch);
  const token = {};
  let base = state.current.get(senderId);
  let changed: number[] | undefined;
  if (base !== undefined && base.bytes.length === filter.length) {
    changed = mergeChanged(base.changed, changedWordsSince(base.previous, base.previousToken, aligned, token), base.aligned, aligned, diffPairsMax(filter.length));
  }
  if (base === undefined || changed === undefined) {
    const copy = aligned.slice();
    const sequence = writeBase(kv, state, channelId, senderId, filter, copy);
    base = { sequence, bytes: copy.subarray(0, filter.length), aligned: copy, previous: aligned, previousToken: token, changed: [] };
    state.scratch = undefined; // `aligned` is now the base's last filter
    state.current.set(senderId, base);
    changed = [];
  } else {
    state.scratch = base.previous; // recycled for the next filter
    base.previous = aligned;
    base.previousToken = token;
    base.changed = changed;
  }
  return { sequence: base.sequence, body: encodeDiffFrom(base.sequence, filter, changed) };
}

function addReference(state: BloomWriteState, category: BloomRefCategory, messageId: string, sequence: bigint): void {
  (state.baseOf.get(category) as Map<string, bigint>).set(messageId, sequence);
  state.references.set(sequence, (state.references.get(sequence) ?? 0) + 1);
}

/** Stores `bloom` of message `messageId` from `senderId` as a diff row (and a new base when needed). */
export function storeBloom(kv: Kv, state: BloomWriteState, channelId: string, senderId: string, messageId: string, filter: Uint8Array, category: DiffCategory = CATEGORY.bloom): void {
  dropBloom(kv, state, channelId, messageId, category);
  const { sequence, body } = diffAgainstBase(kv, state, channelId, senderId, filter);
  const rowKey = messageKey(channelId, messageId);
  kv.put(category, rowKey, frameRow(category, rowKey, 0n, body));
  addReference(state, category, messageId, sequence);
}

/**
 * Diffs the filter inside an outgoing entry's published bytes (and writes a new base when
 * needed); returns the diff body the entry's own row carries (field 124), so a send writes no
 * diff row of its own and its acknowledgement deletes only the outgoing row.
 */
export function inlineWireBloom(kv: Kv, state: BloomWriteState, channelId: string, senderId: string, messageId: string, filter: Uint8Array): Uint8Array {
  dropBloom(kv, state, channelId, messageId, CATEGORY.outgoing);
  const { sequence, body } = diffAgainstBase(kv, state, channelId, senderId, filter);
  addReference(state, CATEGORY.outgoing, messageId, sequence);
  return body;
}

/**
 * Forgets a message's reference to its base, and deletes the base when nothing else refers
 * to it. Deletes the diff row of a diff category; an outgoing row carrying its diff inline is
 * the caller's to delete or rewrite.
 */
export function dropBloom(kv: Kv, state: BloomWriteState, channelId: string, messageId: string, category: BloomRefCategory = CATEGORY.bloom): void {
  const references = state.baseOf.get(category) as Map<string, bigint>;
  const base = references.get(messageId);
  if (base === undefined) return;
  references.delete(messageId);
  if (category !== CATEGORY.outgoing) kv.delete(category, messageKey(channelId, messageId));
  releaseBase(kv, state, channelId, base);
}

/**
 * The filter inside an outgoing row's published bytes: rebuilt from the row's inline diff, or
 * (rows of earlier builds) from its `sdstk.wbloom` row; undefined when it cannot be rebuilt.
 */
export function readWireBloom(kv: Kv, channelId: string, messageId: string, inlineDiff?: Uint8Array, bases?: Map<bigint, Uint8Array | string>): Uint8Array | undefined {
  if (inlineDiff === undefined) {
    const bloom = readBloom(kv, channelId, messageId, bases, CATEGORY.wireBloom);
    return bloom.ok ? bloom.bloom : undefined;
  }
  try {
    const diff = decodeBloomDiff(inlineDiff);
    const base = readBase(kv, channelId, diff.baseSequence, bases);
    return typeof base === "string" ? undefined : applyDiff(base, diff);
  } catch {
    return undefined;
  }
}

/** Result of reading one message's filter from its rows. */
export type BloomRead = { ok: true; bloom: Uint8Array } | { ok: false; category: string; rowKey: Uint8Array; reason: string };

/** Reads and checks one message's filter (diff row, then its base row). Never throws. */
export function readBloom(kv: Kv, channelId: string, messageId: string, bases?: Map<bigint, Uint8Array | string>, category: DiffCategory = CATEGORY.bloom): BloomRead {
  const rowKey = messageKey(channelId, messageId);
  const payload = kv.get(category, rowKey);
  if (payload === undefined) return { ok: false, category: category === CATEGORY.bloom ? CATEGORY.log : CATEGORY.outgoing, rowKey, reason: `the bloom filter of ${messageId} is missing (no ${category} row)` };
  const opened = unframeRow(category, rowKey, payload);
  if (!opened.ok) return { ok: false, category, rowKey, reason: `${category} row: ${opened.reason}` };
  let diff: BloomDiff;
  try {
    diff = decodeBloomDiff(opened.body);
  } catch (error) {
    return { ok: false, category, rowKey, reason: `${category} row does not decode: ${error instanceof Error ? error.message : String(error)}` };
  }
  const base = readBase(kv, channelId, diff.baseSequence, bases);
  if (typeof base === "string") return { ok: false, category, rowKey, reason: base };
  try {
    return { ok: true, bloom: applyDiff(base, diff) };
  } catch (error) {
    return { ok: false, category, rowKey, reason: `${category} row: ${error instanceof Error ? error.message : String(error)}` };
  }
}
