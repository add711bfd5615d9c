/**
 * How a commit becomes rows. Encoding (which may refuse a message) happens before the
 * transaction; the returned function runs inside it, synchronously, and writes only what
 * the deltas changed: one framed row per buffer entry upserted, one `sds.log` row (plus its
 * checksum row) per message appended, a small `sds.meta` row with the lamport and empty
 * buffers, and the channel's sequence counter when it moved. A channel first touched here
 * whose `sds.meta` blob still holds whole buffers (a nim file) has them moved to rows.
 * History rows (`sds.log`, their checksum and filter rows) are sqlite-history.ts.
 */
import type { ChannelDelta, UnacknowledgedMessage } from "./contract.js";
import { dropBloom, inlineWireBloom, readBloom } from "./bloom-rows.js";
import { encodeUnacknowledgedAfter } from "./snapshot-entries.js";
import { BUFFER_CATEGORIES, CATEGORY, FRAME_HEADER_BYTES, channelKey, frameInPlace, frameRow, frameSequence, messageKey, sumRow } from "./rows.js";
import { encodeIncoming, encodeIncomingRepair, encodeOutgoingRepair } from "./snapshot.js";
import type { ChannelWriteState } from "./sqlite.js";
import { type BloomStates, type LogForm, appendHistory, bloomState, checkChannel, evictHistory, logFlags, logForm, wireBloomOf } from "./sqlite-history.js";
import { type Touched, touch, writeMeta } from "./write-state.js";
import { type Kv, rowKeyString } from "./sqlite-db.js";

type BufferCategory = (typeof BUFFER_CATEGORIES)[number];

/** An outgoing entry whose row body is decided in the transaction (it may refer to its `sds.log` row). */
interface PendingOutgoing {
  entry: UnacknowledgedMessage;
  /** Undefined when the very same message object is appended by the same delta (no second encoding). */
  form: LogForm | undefined;
}

interface EncodedDelta {
  channelId: string;
  lamport: bigint | undefined;
  /** Each with its row key, built once per commit (prefetch, write and checksum all use it). */
  upserts: Array<
    | { category: BufferCategory; id: string; rowKey: Uint8Array; body: Uint8Array }
    | { category: typeof CATEGORY.outgoing; id: string; rowKey: Uint8Array; pending: PendingOutgoing; removedLater?: boolean }
  >;
  removes: Array<{ category: BufferCategory; id: string }>;
  appends: Array<LogForm & { rowKey: Uint8Array }>;
  evicts: string[];
  hints: Array<{ id: string; hint: Uint8Array }>;
}

export { type BloomStates, type LogForm, logForm, planHistory } from "./sqlite-history.js";

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

/** `form` with its row key (the same object: no copy of its fields). */
function withKey(form: LogForm, rowKey: Uint8Array): LogForm & { rowKey: Uint8Array } {
  const keyed = form as LogForm & { rowKey: Uint8Array };
  keyed.rowKey = rowKey;
  return keyed;
}

/** The last append of `id` (a delta appends one message or a few: a scan beats building a map). */
function findAppend<T extends LogForm>(appends: readonly T[], id: string): T | undefined {
  for (let at = appends.length - 1; at >= 0; at--) if ((appends[at] as T).id === id) return appends[at];
  return undefined;
}

function encodeDelta(delta: ChannelDelta, keepLamport: boolean): EncodedDelta {
  for (const message of delta.history.append) checkChannel(message, delta.channelId);
  const channelId = delta.channelId;
  const appends = delta.history.append.map((message) => withKey(logForm(message), messageKey(channelId, message.messageId)));
  const upserts: EncodedDelta["upserts"] = [];
  for (const entry of delta.outgoing.upsert) {
    const id = entry.message.messageId;
    const appended = findAppend(appends, id);
    const pending = { entry, form: appended?.message === entry.message ? undefined : logForm(entry.message) };
    upserts.push({ category: CATEGORY.outgoing, id, rowKey: appended?.rowKey ?? messageKey(channelId, id), pending });
  }
  for (const entry of delta.incoming.upsert) upserts.push({ category: CATEGORY.incoming, id: entry.message.messageId, rowKey: messageKey(channelId, entry.message.messageId), body: encodeIncoming(entry) });
  for (const entry of delta.outgoingRepair.upsert) upserts.push({ category: CATEGORY.outgoingRepair, id: entry.entry.messageId, rowKey: messageKey(channelId, entry.entry.messageId), body: encodeOutgoingRepair(entry) });
  for (const entry of delta.incomingRepair.upsert) upserts.push({ category: CATEGORY.incomingRepair, id: entry.entry.messageId, rowKey: messageKey(channelId, entry.entry.messageId), body: encodeIncomingRepair(entry) });
  const removes: EncodedDelta["removes"] = [];
  for (const id of delta.outgoing.remove) removes.push({ category: CATEGORY.outgoing, id });
  for (const id of delta.incoming.remove) removes.push({ category: CATEGORY.incoming, id });
  for (const id of delta.outgoingRepair.remove) removes.push({ category: CATEGORY.outgoingRepair, id });
  for (const id of delta.incomingRepair.remove) removes.push({ category: CATEGORY.incomingRepair, id });
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

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function sameForm(a: LogForm, b: LogForm): boolean {
  if (!sameBytes(a.bytes, b.bytes) || a.flags !== b.flags) return false;
  if (a.bloom === undefined || b.bloom === undefined) return a.bloom === b.bloom;
  return sameBytes(a.bloom, b.bloom);
}

/** Whether the channel's stored `sds.log` row of `form.id` holds exactly `form` (filter included). */
function storedFormMatches(kv: Kv, channelId: string, rowKey: Uint8Array, form: LogForm): boolean {
  const logged = kv.get(CATEGORY.log, rowKey);
  if (logged === undefined || !sameBytes(logged, form.bytes) || logFlags(kv, rowKey) !== form.flags) return false;
  if (form.bloom === undefined) return true;
  const stored = readBloom(kv, channelId, form.id);
  return stored.ok && sameBytes(stored.bloom, form.bloom);
}

/**
 * The row body of an outgoing entry: when the identical message is in the channel's
 * `sds.log` row (a sent message is appended to history by the same operation), only a
 * reference is stored, and the published bytes are stored around the bloom filter. So a send
 * writes its large message once, whatever the backlog. The body is written after room for
 * the row's frame header (see {@link frameInPlace}).
 */
function outgoingRow(kv: Kv, channelId: string, rowKey: Uint8Array, pending: PendingOutgoing, appended: readonly LogForm[], blooms: BloomStates): Uint8Array {
  const { form, entry } = pending;
  let inLog: boolean;
  if (form === undefined) inLog = true; // the same object was appended by this delta
  else {
    const same = findAppend(appended, form.id);
    inLog = same !== undefined ? sameForm(same, form) : storedFormMatches(kv, channelId, rowKey, form);
  }
  const state = bloomState(kv, blooms, channelId);
  const id = entry.message.messageId;
  dropBloom(kv, state, channelId, id, CATEGORY.wireBloom); // a diff row an earlier build wrote
  const range = wireBloomOf(entry);
  if (range === undefined) {
    dropBloom(kv, state, channelId, id, CATEGORY.outgoing);
    return encodeUnacknowledgedAfter(entry, { messageInLog: inLog, splitWire: true }, FRAME_HEADER_BYTES);
  }
  const diff = inlineWireBloom(kv, state, channelId, entry.message.senderId, id, (entry.wire as Uint8Array).subarray(range.at, range.at + range.length));
  return encodeUnacknowledgedAfter(entry, { messageInLog: inLog, wireBloomDiff: { at: range.at, length: range.length, diff } }, FRAME_HEADER_BYTES);
}

function isRemovedLater(upsert: EncodedDelta["upserts"][number]): boolean {
  return "pending" in upsert && upsert.removedLater === true;
}

/** Known insertion sequences of buffer rows, by category and row key ({@link rowKeyString}), read in bulk before a group commit. */
type KnownSequences = Map<BufferCategory, Map<string, bigint>>;


/** Reads the sequences of every buffer row the deltas upsert, with one query per 64 keys instead of one per row. */
function prefetchSequences(kv: Kv, deltas: readonly EncodedDelta[], replaceBuffers: boolean): KnownSequences {
  const known: KnownSequences = new Map(BUFFER_CATEGORIES.map((category) => [category, new Map<string, bigint>()]));
  if (replaceBuffers) return known;
  for (const category of BUFFER_CATEGORIES) {
    const keys: Uint8Array[] = [];
    for (const delta of deltas) for (const upsert of delta.upserts) if (upsert.category === category && !isRemovedLater(upsert)) keys.push(upsert.rowKey);
    if (keys.length === 0) continue;
    const sequences = known.get(category) as Map<string, bigint>;
    for (const [rowKey, head] of kv.heads(category, keys, FRAME_HEADER_BYTES)) {
      const sequence = frameSequence(head);
      if (sequence !== undefined) sequences.set(rowKey, sequence);
    }
  }
  return known;
}

function applyDelta(kv: Kv, delta: EncodedDelta, target: Touched, replaceBuffers: boolean, known: KnownSequences, blooms: BloomStates): void {
  const { channelId } = delta;
  if (replaceBuffers) {
    for (const category of BUFFER_CATEGORIES) kv.deletePrefix(category, channelKey(channelId));
    const state = bloomState(kv, blooms, channelId);
    for (const category of [CATEGORY.wireBloom, CATEGORY.outgoing] as const) {
      for (const id of [...(state.baseOf.get(category) as Map<string, bigint>).keys()]) dropBloom(kv, state, channelId, id, category);
    }
  }
  appendHistory(kv, channelId, delta.appends, blooms);
  const appended = delta.appends;
  for (const upsert of delta.upserts) {
    if (isRemovedLater(upsert)) continue; // its row would be deleted later in this transaction
    const rowKey = upsert.rowKey;
    const sequences = known.get(upsert.category) as Map<string, bigint>;
    const rowId = rowKeyString(rowKey);
    let sequence = sequences.get(rowId);
    if (sequence === undefined) {
      sequence = target.state.nextSequence;
      target.state.nextSequence += 1n;
      sequences.set(rowId, sequence);
    }
    const row = "pending" in upsert ? frameInPlace(upsert.category, rowKey, sequence, outgoingRow(kv, channelId, rowKey, upsert.pending, appended, blooms)) : frameRow(upsert.category, rowKey, sequence, upsert.body);
    kv.put(upsert.category, rowKey, row);
  }
  for (const remove of delta.removes) {
    const rowKey = messageKey(channelId, remove.id);
    kv.delete(remove.category, rowKey);
    if (remove.category === CATEGORY.outgoing) {
      const state = bloomState(kv, blooms, channelId);
      dropBloom(kv, state, channelId, remove.id, CATEGORY.outgoing);
      dropBloom(kv, state, channelId, remove.id, CATEGORY.wireBloom);
    }
    known.get(remove.category)?.delete(rowKeyString(rowKey));
  }
  evictHistory(kv, channelId, delta.evicts, blooms);
  for (const { id, hint } of delta.hints) {
    const rowKey = messageKey(channelId, id);
    kv.put(CATEGORY.hint, rowKey, frameRow(CATEGORY.hint, rowKey, 0n, hint));
  }
  if (delta.lamport !== undefined) {
    target.state.lamport = delta.lamport;
    target.writeMeta = true;
  }
}

/**
 * Encodes `deltas` now (throws SdsError for a message the nim layout cannot carry) and
 * returns the function that writes them inside the caller's transaction.
 */
export function planCommit(deltas: readonly ChannelDelta[], options: PlanOptions = {}): (kv: Kv, cache: ReadonlyMap<string, ChannelWriteState>, blooms: BloomStates) => CommitPlan {
  const encoded = deltas.map((delta) => encodeDelta(delta, options.keepLamport === true));
  if (encoded.length > 1) markRemovedLater(encoded);
  const replaceBuffers = options.replaceBuffers === true;
  return (kv, cache, blooms) => {
    const touched = new Map<string, Touched>();
    const targets = encoded.map((delta) => touch(kv, cache, touched, delta.channelId));
    const known = prefetchSequences(kv, encoded, replaceBuffers);
    encoded.forEach((delta, index) => applyDelta(kv, delta, targets[index] as Touched, replaceBuffers, known, blooms));
    const channels = new Map<string, ChannelWriteState>();
    for (const [channelId, entry] of touched) {
      if (entry.writeMeta || entry.state.nextSequence !== entry.startSequence) writeMeta(kv, channelId, entry.state.lamport, entry.state.nextSequence);
      channels.set(channelId, entry.state);
    }
    return { channels };
  };
}

/**
 * Marks the outgoing upserts of a group commit whose entry a later delta of the same commit
 * removes (a send acknowledged in the same transaction): nothing of the transaction needs
 * the row in between (evicting its history message would only give it the message back), so
 * it is neither looked up, encoded (no filter diff, no body), numbered nor written. Later
 * rows may then take lower insertion sequences than one-by-one commits would give them: the
 * order, all a sequence is for, is the same.
 */
function markRemovedLater(encoded: readonly EncodedDelta[]): void {
  const channels = new Map<string, Map<string, { removedLater?: boolean }>>(); // the last outgoing upsert by channel, then message id
  for (const delta of encoded) {
    let lastUpsert = channels.get(delta.channelId);
    if (lastUpsert === undefined) {
      lastUpsert = new Map();
      channels.set(delta.channelId, lastUpsert);
    }
    for (const upsert of delta.upserts) if ("pending" in upsert) lastUpsert.set(upsert.id, upsert);
    for (const remove of delta.removes) {
      if (remove.category !== CATEGORY.outgoing) continue;
      const upsert = lastUpsert.get(remove.id);
      if (upsert === undefined) continue;
      upsert.removedLater = true;
      lastUpsert.delete(remove.id);
    }
  }
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
