/**
 * A channel's write state during a commit: the lamport and next insertion sequence kept in its
 * small `sds.meta` row, read once per commit (or taken from the store's cache), with buffers a
 * foreign single-blob `sds.meta` still holds moved into rows of their own on first touch.
 */
import { StoreError } from "../errors.js";
import type { ChannelMeta } from "./contract.js";
import { BUFFER_CATEGORIES, CATEGORY, channelKey, frameRow, frameSequence, messageKey, sumRow } from "./rows.js";
import { decodeChannelMeta, decodeChannelMetaExtras, encodeChannelMeta, encodeIncoming, encodeIncomingRepair, encodeOutgoingRepair, encodeUnacknowledged } from "./snapshot.js";
import type { ChannelWriteState } from "./sqlite.js";
import type { Kv } from "./sqlite-db.js";

type BufferCategory = (typeof BUFFER_CATEGORIES)[number];

function emptyMeta(lamport: bigint): ChannelMeta {
  return { schemaVersion: 1, lamportTimestamp: lamport, outgoingBuffer: [], incomingBuffer: [], outgoingRepairBuffer: [], incomingRepairBuffer: [] };
}

/** Writes the small `sds.meta` row (lamport, empty buffers, our sequence counter) and its checksum row. */
export function writeMeta(kv: Kv, channelId: string, lamport: bigint, nextSequence: bigint): void {
  const rowKey = channelKey(channelId);
  const payload = encodeChannelMeta(emptyMeta(lamport), { nextSequence });
  kv.put(CATEGORY.meta, rowKey, payload);
  const sum = sumRow(CATEGORY.meta, rowKey, payload);
  kv.put(CATEGORY.sum, sum.key, sum.payload);
}

export function corrupt(message: string): StoreError {
  return new StoreError("E_STORE_CORRUPT", `${message} (run \`sds inspect-db --repair\`)`);
}

/** The largest insertion sequence among the channel's buffer rows, plus one. */
function sequenceFromRows(kv: Kv, channelId: string): bigint {
  let max = 0n;
  for (const category of BUFFER_CATEGORIES) {
    for (const row of kv.scanPrefix(category, channelKey(channelId))) {
      const sequence = frameSequence(row.payload) ?? 0n;
      if (sequence > max) max = sequence;
    }
  }
  return max + 1n;
}

/**
 * Reads a channel's write state from its `sds.meta` row, moving buffers a foreign blob still
 * holds into rows of their own. Returns whether the meta row must be rewritten.
 */
function loadWriteState(kv: Kv, channelId: string): { state: ChannelWriteState; exists: boolean; dirty: boolean } {
  const payload = kv.get(CATEGORY.meta, channelKey(channelId));
  if (payload === undefined) return { state: { nextSequence: sequenceFromRows(kv, channelId), lamport: 0n }, exists: false, dirty: true };
  let meta: ChannelMeta;
  let next: bigint | undefined;
  try {
    meta = decodeChannelMeta(payload);
    next = decodeChannelMetaExtras(payload).nextSequence;
  } catch (error) {
    throw corrupt(`sds.meta of ${channelId} does not decode: ${error instanceof Error ? error.message : String(error)}`);
  }
  const state: ChannelWriteState = { nextSequence: next ?? sequenceFromRows(kv, channelId), lamport: meta.lamportTimestamp };
  const moves: Array<{ category: BufferCategory; id: string; body: Uint8Array }> = [
    ...meta.outgoingBuffer.map((entry) => ({ category: CATEGORY.outgoing, id: entry.message.messageId, body: encodeUnacknowledged(entry) })),
    ...meta.incomingBuffer.map((entry) => ({ category: CATEGORY.incoming, id: entry.message.messageId, body: encodeIncoming(entry) })),
    ...meta.outgoingRepairBuffer.map((entry) => ({ category: CATEGORY.outgoingRepair, id: entry.entry.messageId, body: encodeOutgoingRepair(entry) })),
    ...meta.incomingRepairBuffer.map((entry) => ({ category: CATEGORY.incomingRepair, id: entry.entry.messageId, body: encodeIncomingRepair(entry) })),
  ];
  for (const move of moves) {
    const rowKey = messageKey(channelId, move.id);
    if (kv.getHead(move.category, rowKey, 1) !== undefined) continue;
    kv.put(move.category, rowKey, frameRow(move.category, rowKey, state.nextSequence, move.body));
    state.nextSequence += 1n;
  }
  return { state, exists: true, dirty: moves.length > 0 || next === undefined };
}

/** A channel a commit touched: its write state, where its sequence started, and whether sds.meta must be rewritten. */
export interface Touched {
  state: ChannelWriteState;
  startSequence: bigint;
  writeMeta: boolean;
}

/** The write state of `channelId` for this commit: cached, or loaded from its rows (once per commit). */
export function touch(kv: Kv, cache: ReadonlyMap<string, ChannelWriteState>, touched: Map<string, Touched>, channelId: string): Touched {
  let entry = touched.get(channelId);
  if (entry !== undefined) return entry;
  const cached = cache.get(channelId);
  if (cached !== undefined) {
    entry = { state: { ...cached }, startSequence: cached.nextSequence, writeMeta: false };
  } else {
    const loaded = loadWriteState(kv, channelId);
    entry = { state: loaded.state, startSequence: loaded.state.nextSequence, writeMeta: loaded.dirty };
  }
  touched.set(channelId, entry);
  return entry;
}
