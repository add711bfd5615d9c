/**
 * The SDS message model shared by both wire dialects. Field names follow the spec
 * (LIP-109) and `@waku/sds`; the dialect codecs map them to their own field numbers.
 */

/** Which wire format a channel or blob uses (see docs/design and research/sds-protocol.md §0). */
export type DialectName = "spec" | "nim";

/** One entry of a causal history or repair request. */
export interface HistoryEntry {
  /** Id of the referenced message. */
  messageId: string;
  /** Where the message can be fetched from (the Waku deterministic hash on js-waku). */
  retrievalHint?: Uint8Array;
  /** Participant that sent the referenced message (SDS-R only). */
  senderId?: string;
}

/** A decoded SDS message, independent of dialect. */
export interface SdsMessage {
  senderId: string;
  messageId: string;
  channelId: string;
  /** Absent only on spec-dialect ephemeral messages. */
  lamportTimestamp?: bigint;
  causalHistory: HistoryEntry[];
  /** Serialized bloom filter bytes, in the dialect's own framing. */
  bloomFilter?: Uint8Array;
  /** Application payload; absent or empty on sync messages. */
  content?: Uint8Array;
  repairRequest: HistoryEntry[];
}

/** How `@waku/sds` classifies a message by field presence (spec dialect). */
export type MessageKind = "content" | "sync" | "ephemeral" | "invalid";
