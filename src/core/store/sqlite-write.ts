/**
 * How a commit becomes rows. Encoding (which may refuse a message) happens before the
 * transaction; the returned function runs inside it, synchronously, and writes only what
 * the deltas changed: one framed row per buffer entry upserted, one `sds.log` row (plus its
 * checksum row) per message appended, a small `sds.meta` row with the lamport and empty
 * buffers, and the channel's sequence counter when it moved. A channel first touched here
 * whose `sds.meta` blob still holds whole buffers (a nim file) has them moved to rows.
 */
import { StoreError } from "../errors.js";
import type { ChannelDelta, ChannelMeta, HistoryUpdate, UnacknowledgedMessage } from "./contract.js";
import { decodeMessage } from "../protocol/wire/index.js";
import { applyAbsenceFlags, decodeUnacknowledged } from "./snapshot.js";
import { BUFFER_CATEGORIES, CATEGORY, FRAME_HEADER_BYTES, SUM_ROW_BYTES, aboutKey, channelKey, frameRow, frameSequence, messageKey, sumRow, unframeRow } from "./rows.js";
import {
  decodeChannelMeta,
  decodeChannelMetaExtras,
  encodeChannelMeta,
  encodeIncoming,
  encodeIncomingRepair,
  encodeNimMessage,
  encodeOutgoingRepair,
  encodeUnacknowledged,
  messageAbsenceFlags,
} from "./snapshot.js";
import type { ChannelWriteState } from "./sqlite.js";
import type { Kv } from "./sqlite-db.js";

type BufferCategory = (typeof BUFFER_CATEGORIES)[number];

/** An outgoing entry whose row body is decided in the transaction (it may refer to its `sds.log` row). */
interface PendingOutgoing {
  entry: UnacknowledgedMessage;
  messageBytes: Uint8Array;
  flags: number;
}

interface EncodedDelta {
  channelId: string;
  lamport: bigint | undefined;
  upserts: Array<{ category: BufferCategory; id: string; body: Uint8Array } | { category: typeof CATEGORY.outgoing; id: string; pending: PendingOutgoing }>;
  removes: Array<{ category: BufferCategory; id: string }>;
  appends: Array<{ id: string; bytes: Uint8Array; flags: number }>;
  evicts: string[];
  hints: Array<{ id: string; hint: Uint8Array }>;
}

/** What a transaction leaves behind for the writer's cache. */
export interface CommitPlan {
  channels: Map<string, ChannelWriteState>;
}

/** Options of {@link planCommit}. */
export interface PlanOptions {
  /** Delete the channel's buffer rows first (a full `saveChannelMeta`). */
  replaceBuffers?: boolean;
  /** Leave the stored lamport as it is (only create the meta row if missing). */
  keepLamport?: boolean;
}

function encodeDelta(delta: ChannelDelta, keepLamport: boolean): EncodedDelta {
  const upserts: EncodedDelta["upserts"] = [];
  for (const entry of delta.outgoing.upsert) {
    upserts.push({ category: CATEGORY.outgoing, id: entry.message.messageId, pending: { entry, messageBytes: encodeNimMessage(entry.message), flags: messageAbsenceFlags(entry.message) } });
  }
  for (const entry of delta.incoming.upsert) upserts.push({ category: CATEGORY.incoming, id: entry.message.messageId, body: encodeIncoming(entry) });
  for (const entry of delta.outgoingRepair.upsert) upserts.push({ category: CATEGORY.outgoingRepair, id: entry.entry.messageId, body: encodeOutgoingRepair(entry) });
  for (const entry of delta.incomingRepair.upsert) upserts.push({ category: CATEGORY.incomingRepair, id: entry.entry.messageId, body: encodeIncomingRepair(entry) });
  const removes: EncodedDelta["removes"] = [
    ...delta.outgoing.remove.map((id) => ({ category: CATEGORY.outgoing, id })),
    ...delta.incoming.remove.map((id) => ({ category: CATEGORY.incoming, id })),
    ...delta.outgoingRepair.remove.map((id) => ({ category: CATEGORY.outgoingRepair, id })),
    ...delta.incomingRepair.remove.map((id) => ({ category: CATEGORY.incomingRepair, id })),
  ];
  for (const message of delta.history.append) {
    if (message.channelId !== delta.channelId) {
      throw new StoreError("E_INPUT_INVALID", `history message ${message.messageId} belongs to channel ${message.channelId}, not ${delta.channelId}`, { channelId: delta.channelId });
    }
  }
  const appends = delta.history.append.map((message) => ({ id: message.messageId, bytes: encodeNimMessage(message), flags: messageAbsenceFlags(message) }));
  return {
    channelId: delta.channelId,
    lamport: keepLamport ? undefined : delta.lamportTimestamp,
    upserts,
    removes,
    appends,
    evicts: delta.history.evict,
    hints: delta.retrievalHints.map(({ messageId, hint }) => ({ id: messageId, hint })),
  };
}

function emptyMeta(lamport: bigint): ChannelMeta {
  return { schemaVersion: 1, lamportTimestamp: lamport, outgoingBuffer: [], incomingBuffer: [], outgoingRepairBuffer: [], incomingRepairBuffer: [] };
}

/** Writes the small `sds.meta` row (lamport, empty buffers, our sequence counter) and its checksum row. */
function writeMeta(kv: Kv, channelId: string, lamport: bigint, nextSequence: bigint): void {
  const rowKey = channelKey(channelId);
  const payload = encodeChannelMeta(emptyMeta(lamport), { nextSequence });
  kv.put(CATEGORY.meta, rowKey, payload);
  const sum = sumRow(CATEGORY.meta, rowKey, payload);
  kv.put(CATEGORY.sum, sum.key, sum.payload);
}

function corrupt(message: string): StoreError {
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

interface Touched {
  state: ChannelWriteState;
  startSequence: bigint;
  writeMeta: boolean;
}

function touch(kv: Kv, cache: ReadonlyMap<string, ChannelWriteState>, touched: Map<string, Touched>, channelId: string): Touched {
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

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Absence flags recorded in the checksum row of an `sds.log` row (0 when there is none). */
function logFlags(kv: Kv, rowKey: Uint8Array): number {
  const sum = kv.get(CATEGORY.sum, aboutKey(CATEGORY.log, rowKey));
  return sum !== undefined && sum.length === SUM_ROW_BYTES ? (sum[4] as number) : 0;
}

/**
 * The row body of an outgoing entry: when the identical message is in the channel's
 * `sds.log` row (a sent message is appended to history by the same operation), only a
 * reference is stored, and the published bytes are stored around the bloom filter. So a send
 * writes its large message once, whatever the backlog.
 */
function outgoingBody(kv: Kv, rowKey: Uint8Array, pending: PendingOutgoing, appended: ReadonlyMap<string, { bytes: Uint8Array; flags: number }>, id: string): Uint8Array {
  const same = appended.get(id);
  let inLog: boolean;
  if (same !== undefined) {
    // appended by this very delta: compare in memory, no read back
    inLog = sameBytes(same.bytes, pending.messageBytes) && same.flags === pending.flags;
  } else {
    const logged = kv.get(CATEGORY.log, rowKey);
    inLog = logged !== undefined && sameBytes(logged, pending.messageBytes) && logFlags(kv, rowKey) === pending.flags;
  }
  return encodeUnacknowledged(pending.entry, { messageBytes: pending.messageBytes, messageInLog: inLog, splitWire: true });
}

function applyDelta(kv: Kv, delta: EncodedDelta, target: Touched, replaceBuffers: boolean): void {
  const { channelId } = delta;
  if (replaceBuffers) for (const category of BUFFER_CATEGORIES) kv.deletePrefix(category, channelKey(channelId));
  appendHistory(kv, channelId, delta.appends);
  const appended = new Map(delta.appends.map((append) => [append.id, append]));
  for (const upsert of delta.upserts) {
    const rowKey = messageKey(channelId, upsert.id);
    const head = replaceBuffers ? undefined : kv.getHead(upsert.category, rowKey, FRAME_HEADER_BYTES);
    let sequence = head === undefined ? undefined : frameSequence(head);
    if (sequence === undefined) {
      sequence = target.state.nextSequence;
      target.state.nextSequence += 1n;
    }
    const body = "pending" in upsert ? outgoingBody(kv, rowKey, upsert.pending, appended, upsert.id) : upsert.body;
    kv.put(upsert.category, rowKey, frameRow(upsert.category, rowKey, sequence, body));
  }
  for (const remove of delta.removes) kv.delete(remove.category, messageKey(channelId, remove.id));
  evictHistory(kv, channelId, delta.evicts);
  for (const { id, hint } of delta.hints) {
    const rowKey = messageKey(channelId, id);
    kv.put(CATEGORY.hint, rowKey, frameRow(CATEGORY.hint, rowKey, 0n, hint));
  }
  if (delta.lamport !== undefined) {
    target.state.lamport = delta.lamport;
    target.writeMeta = true;
  }
}

function appendHistory(kv: Kv, channelId: string, appends: EncodedDelta["appends"]): void {
  for (const append of appends) {
    const rowKey = messageKey(channelId, append.id);
    kv.put(CATEGORY.log, rowKey, append.bytes);
    const sum = sumRow(CATEGORY.log, rowKey, append.bytes, append.flags);
    kv.put(CATEGORY.sum, sum.key, sum.payload);
  }
}

/** An outgoing row that refers to a log row about to be evicted gets the message bytes back. */
function detachOutgoing(kv: Kv, rowKey: Uint8Array, logged: Uint8Array): void {
  const payload = kv.get(CATEGORY.outgoing, rowKey);
  if (payload === undefined) return;
  const opened = unframeRow(CATEGORY.outgoing, rowKey, payload);
  if (!opened.ok) throw corrupt(`sdstk.out row: ${opened.reason}`);
  const flags = logFlags(kv, rowKey);
  const resolveMessage = () => applyAbsenceFlags(decodeMessage(logged, { dialect: "nim" }), flags);
  const entry = decodeUnacknowledged(opened.body, 0, CATEGORY.outgoing, { base: 0, limits: { bufferEntriesMax: 1, historyEntriesMax: 1 }, resolveMessage });
  kv.put(CATEGORY.outgoing, rowKey, frameRow(CATEGORY.outgoing, rowKey, opened.sequence, encodeUnacknowledged(entry, { splitWire: true })));
}

function evictHistory(kv: Kv, channelId: string, evicts: readonly string[]): void {
  for (const id of evicts) {
    const rowKey = messageKey(channelId, id);
    const logged = kv.get(CATEGORY.log, rowKey);
    kv.delete(CATEGORY.hint, rowKey);
    if (logged === undefined) continue;
    detachOutgoing(kv, rowKey, logged);
    kv.delete(CATEGORY.log, rowKey);
    kv.delete(CATEGORY.sum, aboutKey(CATEGORY.log, rowKey));
  }
}

/**
 * Encodes `deltas` now (throws SdsError for a message the nim layout cannot carry) and
 * returns the function that writes them inside the caller's transaction.
 */
export function planCommit(deltas: readonly ChannelDelta[], options: PlanOptions = {}): (kv: Kv, cache: ReadonlyMap<string, ChannelWriteState>) => CommitPlan {
  const encoded = deltas.map((delta) => encodeDelta(delta, options.keepLamport === true));
  return (kv, cache) => {
    const touched = new Map<string, Touched>();
    for (const delta of encoded) applyDelta(kv, delta, touch(kv, cache, touched, delta.channelId), options.replaceBuffers === true);
    const channels = new Map<string, ChannelWriteState>();
    for (const [channelId, entry] of touched) {
      if (entry.writeMeta || entry.state.nextSequence !== entry.startSequence) writeMeta(kv, channelId, entry.state.lamport, entry.state.nextSequence);
      channels.set(channelId, entry.state);
    }
    return { channels };
  };
}

/** Encodes a nim `HistoryUpdate` and returns the function that writes it in a transaction. */
export function planHistory(channelId: string, update: HistoryUpdate): (kv: Kv) => void {
  const appends = update.append.map((message) => {
    if (message.channelId !== channelId) throw new StoreError("E_INPUT_INVALID", `history message ${message.messageId} belongs to channel ${message.channelId}, not ${channelId}`, { channelId });
    return { id: message.messageId, bytes: encodeNimMessage(message), flags: messageAbsenceFlags(message) };
  });
  return (kv) => {
    appendHistory(kv, channelId, appends);
    evictHistory(kv, channelId, update.evict);
  };
}

/** Adds checksum rows for every `sds.meta` and `sds.log` row (adopting a foreign file). */
export function adoptForeignRows(kv: Kv): number {
  let count = 0;
  for (const category of [CATEGORY.meta, CATEGORY.log]) {
    for (const row of kv.scanCategory(category)) {
      const sum = sumRow(category, row.key, row.payload);
      kv.put(CATEGORY.sum, sum.key, sum.payload);
      count += 1;
    }
  }
  return count;
}
