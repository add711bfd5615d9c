/**
 * What an engine operation reports: deliveries and typed events. Every outcome a caller may
 * need to act on has an event (nothing is dropped silently): acknowledgements, possible
 * acknowledgements, missing and lost dependencies, undelivered messages after the last
 * resend, evictions from every capped buffer, and each SDS-R step.
 */
import type { HistoryEntry } from "../types.js";

/** A message handed to the application, in causal order. */
export interface Delivered {
  channelId: string;
  messageId: string;
  senderId: string;
  /** Absent only for ephemeral messages (spec dialect). */
  lamportTimestamp: bigint | undefined;
  content: Uint8Array;
  /** `true` for ephemeral messages: delivered at once, never logged or acknowledged. */
  ephemeral: boolean;
  /** Retrieval hint of the envelope that carried it, when the transport gave one. */
  retrievalHint?: Uint8Array;
}

/** Which capped buffer evicted an entry. */
export type BufferName = "history" | "outgoing" | "incoming" | "outgoingRepair" | "incomingRepair";

/** Every event an engine operation can report; `channelId` is the channel it happened on. */
export type EngineEvent =
  | { type: "delivered"; channelId: string; delivered: Delivered }
  | { type: "acknowledged"; channelId: string; messageId: string; by: "causalHistory" | "bloom" }
  | { type: "possiblyAcknowledged"; channelId: string; messageId: string; count: number }
  | { type: "missing"; channelId: string; messageId: string; missing: HistoryEntry[] }
  | { type: "lost"; channelId: string; messageId: string; missing: HistoryEntry[] }
  | { type: "resent"; channelId: string; messageId: string; attempt: number }
  | { type: "undelivered"; channelId: string; messageId: string; attempts: number; reason: "resendsExhausted" | "evicted" }
  | { type: "evicted"; channelId: string; buffer: BufferName; messageId: string }
  | { type: "duplicate"; channelId: string; messageId: string; own: boolean }
  | { type: "syncSent"; channelId: string; messageId: string }
  | { type: "syncReceived"; channelId: string; messageId: string; senderId: string }
  | { type: "periodicSync"; channelId: string }
  | { type: "repairRequested"; channelId: string; messageIds: string[]; carrierMessageId: string }
  | { type: "repairRequestReceived"; channelId: string; messageIds: string[]; fromSenderId: string }
  | { type: "repairAnswered"; channelId: string; messageId: string }
  | { type: "repairAbandoned"; channelId: string; messageId: string }
  | { type: "invalidBloom"; channelId: string; messageId: string };

/** The `type` of an engine event. */
export type EngineEventType = EngineEvent["type"];
