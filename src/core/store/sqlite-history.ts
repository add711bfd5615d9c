/**
 * History rows of a commit: how a message becomes its `sds.log` row (nim bytes without a
 * large filter, absence flags in its checksum row, the filter as a diff row), appending and
 * evicting those rows, and the per-channel bloom write state both history and outgoing rows
 * use. An evicted message's outgoing row gets the message bytes back, so an unacknowledged
 * message stays resendable after its history row is gone. The buffer rows and the commit
 * plan are sqlite-write.ts.
 */
import { StoreError } from "../errors.js";
import type { HistoryUpdate, UnacknowledgedMessage } from "./contract.js";
import type { SdsMessage } from "../protocol/types.js";
import { decodeMessage } from "../protocol/wire/index.js";
import { BLOOM_IN_ROWS, BLOOM_ROW_MIN_BYTES, type BloomWriteState, dropBloom, loadBloomState, readBloom, readWireBloom, storeBloom, wireBloomRange } from "./bloom-rows.js";
import { applyAbsenceFlags, decodeUnacknowledged, encodeNimMessage, encodeUnacknowledged, messageAbsenceFlags } from "./snapshot.js";
import { unacknowledgedWireDiff } from "./snapshot-entries.js";
import { CATEGORY, SUM_ROW_BYTES, aboutKey, frameRow, messageKey, sumRow, unframeRow } from "./rows.js";
import { corrupt } from "./write-state.js";
import type { Kv } from "./sqlite-db.js";

/** A message as its `sds.log` row stores it: nim bytes (without a large bloom filter), absence flags, the filter kept in rows. */
export interface LogForm {
  id: string;
  message: SdsMessage;
  bytes: Uint8Array;
  flags: number;
  /** A filter of at least {@link BLOOM_ROW_MIN_BYTES}, stored delta-encoded in `sdstk.bloom` instead of in the row. */
  bloom?: Uint8Array;
}

/** Encodes a message for its `sds.log` row, once (history and outgoing rows share the encoding). */
export function logForm(message: SdsMessage): LogForm {
  const bloom = message.bloomFilter;
  if (bloom != null && bloom.length >= BLOOM_ROW_MIN_BYTES) {
    const { bloomFilter: _kept, ...rest } = message;
    return { id: message.messageId, message, bytes: encodeNimMessage(rest), flags: messageAbsenceFlags(message) | BLOOM_IN_ROWS, bloom };
  }
  return { id: message.messageId, message, bytes: encodeNimMessage(message), flags: messageAbsenceFlags(message) };
}

/** The writer's per-channel bloom states, mutated in place by a transaction (drop them all when one fails). */
export type BloomStates = Map<string, BloomWriteState>;

/** The channel's bloom write state, loaded from its rows on first use in this writer. */
export function bloomState(kv: Kv, blooms: BloomStates, channelId: string): BloomWriteState {
  let state = blooms.get(channelId);
  if (state === undefined) {
    state = loadBloomState(kv, channelId);
    blooms.set(channelId, state);
  }
  return state;
}

/** Refuses a history message of another channel (typed error: bad input, not a bug). */
export function checkChannel(message: SdsMessage, channelId: string): void {
  if (message.channelId !== channelId) {
    throw new StoreError("E_INPUT_INVALID", `history message ${message.messageId} belongs to channel ${message.channelId}, not ${channelId}`, { channelId });
  }
}

/** Absence flags recorded in the checksum row of an `sds.log` row (0 when there is none). */
export function logFlags(kv: Kv, rowKey: Uint8Array): number {
  const sum = kv.get(CATEGORY.sum, aboutKey(CATEGORY.log, rowKey));
  return sum !== undefined && sum.length === SUM_ROW_BYTES ? (sum[4] as number) : 0;
}

/**
 * The bloom filter inside an entry's published bytes that is kept in `sdstk.wbloom`: when the
 * message itself does not carry it (the engine strips filters from stored messages), the
 * published bytes are the only place an 18.7 KB filter would otherwise be written whole.
 */
export function wireBloomOf(entry: UnacknowledgedMessage): { at: number; length: number } | undefined {
  if (entry.wire == null) return undefined;
  const own = entry.message.bloomFilter;
  if (own != null && own.length >= BLOOM_ROW_MIN_BYTES) return undefined; // split around the message's own filter instead
  return wireBloomRange(entry.wire);
}

/** Writes appended messages' `sds.log` rows, their checksum rows and their filters' diff rows. */
export function appendHistory(kv: Kv, channelId: string, appends: ReadonlyArray<LogForm & { rowKey: Uint8Array }>, blooms: BloomStates): void {
  if (appends.length === 0) return;
  const state = bloomState(kv, blooms, channelId);
  for (const append of appends) {
    const rowKey = append.rowKey;
    kv.put(CATEGORY.log, rowKey, append.bytes);
    const sum = sumRow(CATEGORY.log, rowKey, append.bytes, append.flags);
    kv.put(CATEGORY.sum, sum.key, sum.payload);
    if (append.bloom !== undefined) storeBloom(kv, state, channelId, append.message.senderId, append.id, append.bloom);
    else dropBloom(kv, state, channelId, append.id);
  }
}

/** The message of a stored `sds.log` row, its filter put back from `sdstk.bloom` when kept there. */
function storedMessage(kv: Kv, channelId: string, id: string, logged: Uint8Array, flags: number): SdsMessage {
  const message = applyAbsenceFlags(decodeMessage(logged, { dialect: "nim" }), flags);
  if ((flags & BLOOM_IN_ROWS) === 0) return message;
  const bloom = readBloom(kv, channelId, id);
  if (!bloom.ok) throw corrupt(bloom.reason);
  return { ...message, bloomFilter: bloom.bloom };
}

/** An outgoing row that refers to a log row about to be evicted gets the message bytes back. */
function detachOutgoing(kv: Kv, channelId: string, id: string, rowKey: Uint8Array, logged: Uint8Array): void {
  const payload = kv.get(CATEGORY.outgoing, rowKey);
  if (payload === undefined) return;
  const opened = unframeRow(CATEGORY.outgoing, rowKey, payload);
  if (!opened.ok) throw corrupt(`sdstk.out row: ${opened.reason}`);
  const flags = logFlags(kv, rowKey);
  const resolveMessage = () => storedMessage(kv, channelId, id, logged, flags);
  const resolveWireBloom = (inlineDiff?: Uint8Array) => readWireBloom(kv, channelId, id, inlineDiff);
  const entry = decodeUnacknowledged(opened.body, 0, CATEGORY.outgoing, { base: 0, limits: { bufferEntriesMax: 1, historyEntriesMax: 1 }, resolveMessage, resolveWireBloom });
  // the published filter's diff (inline, or an earlier build's sdstk.wbloom row) stays as it is
  const range = wireBloomOf(entry);
  const diff = unacknowledgedWireDiff(opened.body);
  let options: Parameters<typeof encodeUnacknowledged>[1] = { splitWire: true };
  if (range !== undefined) options = diff !== undefined ? { wireBloomDiff: { ...range, diff } } : { wireBloom: range };
  kv.put(CATEGORY.outgoing, rowKey, frameRow(CATEGORY.outgoing, rowKey, opened.sequence, encodeUnacknowledged(entry, options)));
}

/** Deletes evicted messages' rows; an outgoing row that referred to one gets the message bytes back. */
export function evictHistory(kv: Kv, channelId: string, evicts: readonly string[], blooms: BloomStates): void {
  if (evicts.length === 0) return;
  const state = bloomState(kv, blooms, channelId);
  for (const id of evicts) {
    const rowKey = messageKey(channelId, id);
    const logged = kv.get(CATEGORY.log, rowKey);
    kv.delete(CATEGORY.hint, rowKey);
    if (logged === undefined) continue;
    detachOutgoing(kv, channelId, id, rowKey, logged);
    kv.delete(CATEGORY.log, rowKey);
    kv.delete(CATEGORY.sum, aboutKey(CATEGORY.log, rowKey));
    dropBloom(kv, state, channelId, id);
  }
}

/** Encodes a nim `HistoryUpdate` and returns the function that writes it in a transaction. */
export function planHistory(channelId: string, update: HistoryUpdate): (kv: Kv, blooms: BloomStates) => void {
  for (const message of update.append) checkChannel(message, channelId);
  const appends = update.append.map((message) => ({ ...logForm(message), rowKey: messageKey(channelId, message.messageId) }));
  return (kv, blooms) => {
    appendHistory(kv, channelId, appends, blooms);
    evictHistory(kv, channelId, update.evict, blooms);
  };
}
