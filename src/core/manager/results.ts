/**
 * Result shapes of the ReliabilityManager's operations (the library API of the SDS issue):
 * what `send`, `receive` and `tick` return once their delta is committed.
 */
import type { Delivered, EngineEvent, OperationResult, ReceiveOutcome, ReceivedKind } from "../protocol/engine/index.js";
import type { HistoryEntry } from "../protocol/types.js";

/** A sent message, committed: publish `wire`. */
export interface SendResult {
  channelId: string;
  messageId: string;
  /** The encoded message in the manager's dialect. */
  wire: Uint8Array;
}

/** What receiving one wire message did. */
export interface ReceiveResult {
  channelId: string;
  messageId: string;
  kind: ReceivedKind;
  /** Seen before (history or buffer) or our own echo. */
  duplicate: boolean;
  /** Addressed to another channel than the one the caller asked for; nothing was done. */
  ignored?: boolean;
  /** Messages delivered by this receipt, in causal order (this one and any it unblocked). */
  delivered: Delivered[];
  /** This message's dependencies nobody here has yet (it waits in the incoming buffer). */
  missing: HistoryEntry[];
  /** Own messages acknowledged by this receipt. */
  acknowledged: string[];
}

/** One wire message a tick asks to publish, and its channel. */
export interface TickPublish {
  channelId: string;
  wire: Uint8Array;
}

/** What one `tick` did, across all channels. */
export interface TickResult {
  /** Bytes to publish: resends, sync messages, repair rebroadcasts (every channel, in order). */
  wire: Uint8Array[];
  /** The same bytes as `wire`, in the same order, each with the channel it belongs to. */
  publish: TickPublish[];
  /** Messages delivered (after a lost-dependency timeout, or buffered ones made ready). */
  delivered: Delivered[];
  /** Dependencies given up on. */
  lost: HistoryEntry[];
  acknowledged: string[];
  /** Own messages given up on after the last resend. */
  undelivered: string[];
  /** Every event of the tick, in order. */
  events: EngineEvent[];
}

/** An empty tick result to fill. */
export function emptyTickResult(): TickResult {
  return { wire: [], publish: [], delivered: [], lost: [], acknowledged: [], undelivered: [], events: [] };
}

/** The public receive result of an engine receive. */
export function toReceiveResult(channelId: string, result: OperationResult<ReceiveOutcome>): ReceiveResult {
  const outcome = result.value;
  return {
    channelId,
    messageId: outcome.messageId,
    kind: outcome.kind,
    duplicate: outcome.duplicate,
    delivered: result.effects.delivered,
    missing: outcome.missing,
    acknowledged: result.effects.acknowledged,
  };
}
