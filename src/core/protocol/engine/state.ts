/**
 * Per-channel engine state and the context an operation runs in. The state is mutated in
 * place by the operations (for speed); the driver decides what happens when the operation's
 * delta cannot be committed (see docs/engine.md: under write-before-release it discards the
 * channel and reloads it from the store, which holds exactly the state before the operation).
 * `restoreChannel` rebuilds a channel from persisted `ChannelData`; the bloom filter is
 * rebuilt from history and the incoming buffer, as nim-sds does. Missing sets come from the
 * stored `missingDeps`, which every operation keeps current.
 */
import type { ChannelData, IncomingMessage, IncomingRepairEntry, OutgoingRepairEntry, UnacknowledgedMessage } from "../../store/contract.js";
import type { SdsConfig } from "../config.js";
import type { Dialect } from "../dialect.js";
import type { HistoryEntry, SdsMessage } from "../types.js";
import { LocalHistory, type HistoryRecord } from "./history.js";
import { createLocalBloom, taggedEntry, type LocalBloom } from "./ports.js";
import { WIRE_CACHE_BYTES_MAX_DEFAULT, WireCache } from "./wire-cache.js";

/** A buffered message and the dependency ids it still waits for. */
export interface IncomingRecord {
  data: IncomingMessage;
  /** Causal dependencies not yet in history (nor resolved). */
  missing: Set<string>;
}

/** Rebroadcast accounting of one message id (bounds repair amplification). */
export interface RebroadcastWindow {
  count: number;
  windowStartMs: number;
}

/** Everything the engine knows about one channel. */
export interface ChannelState {
  readonly channelId: string;
  /** Lamport clock (epoch ms in spec, a seconds-seeded counter in nim); always < 2^53. */
  lamport: number;
  readonly history: LocalHistory;
  bloom: LocalBloom;
  /** Unacknowledged own messages, in send order. */
  readonly outgoing: Map<string, UnacknowledgedMessage>;
  /** Received messages waiting for dependencies, in arrival order. */
  readonly incoming: Map<string, IncomingRecord>;
  /** Reverse index: dependency id → ids of buffered messages waiting for it. */
  readonly waitingOn: Map<string, Set<string>>;
  /** SDS-R: what we will ask for, by message id. */
  readonly outgoingRepair: Map<string, OutgoingRepairEntry>;
  /** SDS-R: what we may answer, by message id. */
  readonly incomingRepair: Map<string, IncomingRepairEntry>;
  /** Ids declared met (`markDependenciesMet`) or lost, not in history; FIFO-capped. */
  readonly resolved: Set<string>;
  /** Last own content or sync send (for the sync interval). */
  lastSendAtMs: number;
  /** Rebroadcast accounting per id; FIFO-capped. */
  readonly rebroadcasts: Map<string, RebroadcastWindow>;
  /** Exact wire bytes of held messages, for repair answers (bounded by bytes; not persisted). */
  readonly wires: WireCache;
}

/** What an operation needs besides the state: identity, rules, limits, time, randomness, ids. */
export interface EngineContext {
  readonly participantId: string;
  readonly dialect: Dialect;
  readonly config: SdsConfig;
  /** Wall-clock time of this operation, Unix ms. */
  readonly nowMs: number;
  /** Uniform in [0, 1). */
  readonly random: () => number;
  /** Makes the id of a content or ephemeral message sent now. */
  readonly makeMessageId: (payload: Uint8Array) => string;
  /** Cap of each channel's cache of original wire bytes, bytes (default 8 MiB; 0 = off). Read when a channel is created. */
  readonly wireCacheBytesMax?: number;
}

/** A fresh channel. */
export function createChannel(channelId: string, context: EngineContext): ChannelState {
  return {
    channelId,
    lamport: context.dialect.initialLamport(context.nowMs),
    history: new LocalHistory(context.config.historyEntriesMax, (entry) => taggedEntry(entry, context.dialect.name)),
    bloom: createLocalBloom(context.dialect, context.config),
    outgoing: new Map(),
    incoming: new Map(),
    waitingOn: new Map(),
    outgoingRepair: new Map(),
    incomingRepair: new Map(),
    resolved: new Set(),
    lastSendAtMs: context.nowMs,
    rebroadcasts: new Map(),
    wires: new WireCache(context.wireCacheBytesMax ?? WIRE_CACHE_BYTES_MAX_DEFAULT),
  };
}

/** The message as history keeps it: no bloom filter (it is 18 KB and never needed again). */
export function stripForHistory(message: SdsMessage): SdsMessage {
  if (message.bloomFilter === undefined) return message;
  return { ...message, bloomFilter: undefined };
}

/** A history record for `message` (which must carry a lamport timestamp). */
export function makeRecord(message: SdsMessage, retrievalHint?: Uint8Array): HistoryRecord {
  const entry: HistoryEntry = { messageId: message.messageId, senderId: message.senderId };
  if (retrievalHint !== undefined) entry.retrievalHint = retrievalHint;
  return { messageId: message.messageId, lamport: message.lamportTimestamp ?? 0n, entry, message: stripForHistory(message) };
}

/** Adds `dependencyId` → `waitingId` to the reverse index. */
export function addWaiter(state: ChannelState, dependencyId: string, waitingId: string): void {
  let waiters = state.waitingOn.get(dependencyId);
  if (waiters === undefined) {
    waiters = new Set();
    state.waitingOn.set(dependencyId, waiters);
  }
  waiters.add(waitingId);
}

/** Remembers `messageId` as resolved (met or lost), keeping at most `capacity` ids. */
export function markResolved(state: ChannelState, messageId: string, capacity: number): void {
  state.resolved.delete(messageId);
  state.resolved.add(messageId);
  if (state.resolved.size > capacity) {
    const oldest = state.resolved.values().next().value;
    if (oldest !== undefined) state.resolved.delete(oldest);
  }
}

/** `true` when a dependency on `messageId` is satisfied. */
export function isDependencyMet(state: ChannelState, messageId: string): boolean {
  return state.history.has(messageId) || state.resolved.has(messageId);
}

/**
 * Rebuilds a channel from persisted data. History is inserted in order (the store returns it
 * oldest first; out-of-order rows are still placed correctly); the bloom filter gets every
 * history id and every buffered id; missing sets are the stored ones minus what history holds.
 */
export function restoreChannel(channelId: string, data: ChannelData, context: EngineContext): ChannelState {
  const state = createChannel(channelId, context);
  const lamport = data.meta.lamportTimestamp;
  state.lamport = lamport > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(lamport);
  for (const message of data.history) {
    if (message.lamportTimestamp === undefined) continue;
    const hint = data.retrievalHints?.get(message.messageId);
    state.history.insert(makeRecord(message, hint));
    state.bloom.add(message.messageId);
  }
  for (const unacknowledged of data.meta.outgoingBuffer) state.outgoing.set(unacknowledged.message.messageId, unacknowledged);
  for (const incoming of data.meta.incomingBuffer) {
    const id = incoming.message.messageId;
    // The stored set is kept current by every operation (shrunk on each delivery or declaration).
    const missing = new Set(incoming.missingDeps.filter((dependency) => !state.history.has(dependency)));
    state.incoming.set(id, { data: incoming, missing });
    for (const dependency of missing) addWaiter(state, dependency, id);
    state.bloom.add(id);
  }
  for (const entry of data.meta.outgoingRepairBuffer) state.outgoingRepair.set(entry.entry.messageId, entry);
  for (const entry of data.meta.incomingRepairBuffer) state.incomingRepair.set(entry.entry.messageId, entry);
  return state;
}
