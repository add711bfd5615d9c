/**
 * The persistence contract between the SDS engine and a store. It follows the nim-sds
 * snapshot contract (`saveChannelMeta`, `updateHistory`, `loadChannel`, `dropChannel`,
 * `setRetrievalHint`: results, never throws) and adds `commit`, which writes one protocol
 * operation's delta (or a group of them) atomically, so that the cost of an operation does not
 * grow with the size of the buffers (see the persistence issue and docs/store.md).
 *
 * Times are absolute Unix milliseconds. Types mirror nim-sds `ChannelMeta` (schema 1); the
 * fields marked "ours" are extensions a foreign (nim-written) file simply lacks.
 */
import type { Result } from "../errors.js";
import type { HistoryEntry, SdsMessage } from "../protocol/types.js";

/** A sent message not yet acknowledged (nim `UnacknowledgedMessage`). */
export interface UnacknowledgedMessage {
  message: SdsMessage;
  /** Last (re)send time. */
  sendTimeMs: number;
  resendAttempts: number;
  /** Ours: bloom hits seen so far ("possibly acknowledged" below the dialect's threshold). */
  possibleAckCount?: number;
  /** Ours: the exact bytes published, re-published as-is on resend. */
  wire?: Uint8Array;
}

/** A received message waiting for its dependencies (nim `IncomingMessage`). */
export interface IncomingMessage {
  message: SdsMessage;
  missingDeps: string[];
  /** Ours: when it was first buffered, for the lost-message timeout. */
  receivedAtMs?: number;
  /** Ours: retrieval hint of the carrying envelope. */
  retrievalHint?: Uint8Array;
}

/** A repair we will ask for (nim `OutgoingRepairEntry`, keyed by message id). */
export interface OutgoingRepairEntry {
  entry: HistoryEntry;
  /** T_req: not requested before this time. */
  minTimeRepairReqMs: number;
  /** Ours: how many times it was attached to an outgoing message. */
  attempts?: number;
  /** Ours: when the dependency was first found missing (T_max is counted from here). */
  firstMissingAtMs?: number;
}

/** A repair we may answer by rebroadcasting cached bytes (nim `IncomingRepairEntry`). */
export interface IncomingRepairEntry {
  entry: HistoryEntry;
  /** The bytes to rebroadcast, in the channel's wire dialect. */
  cachedMessage: Uint8Array;
  /** T_resp: rebroadcast at or after this time unless the message is seen first. */
  minTimeRepairRespMs: number;
}

/** Everything about a channel except history and bloom (nim `ChannelMeta`, schema 1). */
export interface ChannelMeta {
  schemaVersion: 1;
  lamportTimestamp: bigint;
  /** In insertion (send) order. */
  outgoingBuffer: UnacknowledgedMessage[];
  incomingBuffer: IncomingMessage[];
  outgoingRepairBuffer: OutgoingRepairEntry[];
  incomingRepairBuffer: IncomingRepairEntry[];
}

/** What `loadChannel` returns: meta plus history, oldest first by (lamport, messageId). */
export interface ChannelData {
  meta: ChannelMeta;
  history: SdsMessage[];
  /** Retrieval hints set through `setRetrievalHint`, by message id. */
  retrievalHints?: Map<string, Uint8Array>;
}

/** History delta of one operation (nim `HistoryUpdate`). */
export interface HistoryUpdate {
  /** Delivered messages, in delivery order. */
  append: SdsMessage[];
  /** Ids evicted past the history cap. */
  evict: string[];
}

/** Upserts and removals of one keyed buffer. */
export interface BufferDelta<T> {
  upsert: T[];
  /** Message ids removed. */
  remove: string[];
}

/** One protocol operation's change to one channel; `commit` applies a list of them atomically. */
export interface ChannelDelta {
  channelId: string;
  lamportTimestamp: bigint;
  outgoing: BufferDelta<UnacknowledgedMessage>;
  incoming: BufferDelta<IncomingMessage>;
  outgoingRepair: BufferDelta<OutgoingRepairEntry>;
  incomingRepair: BufferDelta<IncomingRepairEntry>;
  history: HistoryUpdate;
  retrievalHints: Array<{ messageId: string; hint: Uint8Array }>;
}

/**
 * A channel-state store. Every method returns a {@link Result}; none throws for an expected
 * failure (busy, full, locked, corrupt), so the engine's driver can decide the policy
 * (write-before-release or best-effort).
 */
export interface Persistence {
  saveChannelMeta(channelId: string, meta: ChannelMeta): Promise<Result<void>>;
  updateHistory(channelId: string, update: HistoryUpdate): Promise<Result<void>>;
  /** `undefined` when the channel was never saved. */
  loadChannel(channelId: string): Promise<Result<ChannelData | undefined>>;
  dropChannel(channelId: string): Promise<Result<void>>;
  setRetrievalHint(channelId: string, messageId: string, hint: Uint8Array): Promise<Result<void>>;
  /** Applies all deltas in one transaction: all or nothing. */
  commit(deltas: readonly ChannelDelta[]): Promise<Result<void>>;
  /** Channel ids known to the store. */
  listChannels(): Promise<Result<string[]>>;
  close(): Promise<void>;
}
