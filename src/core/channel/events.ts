/**
 * What a Reliable Channel reports, and the small pieces around it: the typed event map, a
 * listener registry that never lets one listener break the channel, the counters every outcome
 * is tallied in, and the scheduler interface the channel uses for its periodic work (the CLI
 * passes {@link timerScheduler}; tests pass a manual one). No protocol logic lives here.
 */
import type { SdsError } from "../errors.js";
import type { SetLostReason } from "./reassembly.js";

/** Why an incoming envelope or segment was not delivered. */
export type DropReason =
  | "wrong-key" // decryption failed: wrong channel key, tampering, or a plaintext peer on an encrypted channel
  | "bad-meta" // `meta` present but not `RELIABLE-CHANNEL-API/1`
  | "bad-topic" // content topic is not this channel's
  | "decode" // the SDS engine refused the bytes (undecodable, limits)
  | "foreign-channel" // an SDS message of another channel id on our topic
  | "segment" // SDS content that is not a usable segment (and raw delivery is off)
  | "overload"; // the ingress queue was full

/** Facts delivered with each whole payload. */
export interface ReceivedMeta {
  /** SDS sender of the segments. */
  senderId: string;
  /** SDS message ids of the segments, in segment order. */
  messageIds: string[];
  /** Lamport timestamp of the last segment delivered (causal position of the payload). */
  lamportTimestamp: bigint | undefined;
  /** Keccak-256 hex of the payload, when it came segmented. */
  payloadHash: string | undefined;
  /** False when the SDS content was delivered as-is (a peer that does not segment, e.g. js-waku). */
  segmented: boolean;
}

/** Every event of a Reliable Channel and its payload. */
export interface ChannelEventMap {
  /** Every segment of `requestId` was published (the relay confirmed). */
  sent: { requestId: string; messageIds: string[] };
  /** Every segment of `requestId` was acknowledged by SDS (end to end). */
  delivered: { requestId: string; messageIds: string[] };
  /** SDS gave up on at least one segment of `requestId` (after all segments were final). */
  undelivered: { requestId: string; messageIds: string[]; undeliveredMessageIds: string[] };
  /** Publishing one segment failed; not final (SDS resends may still get it out). */
  "send-error": { requestId: string; messageId: string; error: SdsError };
  /** A whole payload, in causal order. */
  received: { payload: Uint8Array; meta: ReceivedMeta };
  /** Something will never be delivered: SDS dependencies given up, or a segment set dropped. */
  lost:
    | { source: "sds"; messageIds: string[] }
    | { source: "reassembly"; reason: SetLostReason; payloadHash: string; messageIds: string[]; held: number; expected: number };
  /** An incoming envelope or segment was dropped (counted in `counters.dropped`). */
  dropped: { reason: DropReason; detail: string };
  /** An operation failed in the background (engine, store or transport); the channel keeps going. */
  error: { error: SdsError; during: "receive" | "tick" | "fetch" };
}

/** Names of {@link ChannelEventMap}. */
export type ChannelEventName = keyof ChannelEventMap;
/** A listener of event `K`. */
export type ChannelListener<K extends ChannelEventName> = (event: ChannelEventMap[K]) => void;

/** Running totals of a channel, for status lines and `--json` summaries. */
export interface ChannelCounters {
  requestsSent: number;
  segmentsSent: number;
  published: number;
  publishFailed: number;
  resent: number;
  envelopesReceived: number;
  payloadsReceived: number;
  requestsDelivered: number;
  requestsUndelivered: number;
  lost: number;
  fetchRequests: number;
  fetchedEnvelopes: number;
  /** Fetched envelopes skipped because this channel had already received the same bytes (same relay hash). */
  fetchedAlreadyReceived: number;
  errors: number;
  dropped: Record<DropReason, number>;
}

/** A fresh, all-zero {@link ChannelCounters}. */
export function emptyCounters(): ChannelCounters {
  return {
    requestsSent: 0,
    segmentsSent: 0,
    published: 0,
    publishFailed: 0,
    resent: 0,
    envelopesReceived: 0,
    payloadsReceived: 0,
    requestsDelivered: 0,
    requestsUndelivered: 0,
    lost: 0,
    fetchRequests: 0,
    fetchedEnvelopes: 0,
    fetchedAlreadyReceived: 0,
    errors: 0,
    dropped: { "wrong-key": 0, "bad-meta": 0, "bad-topic": 0, decode: 0, "foreign-channel": 0, segment: 0, overload: 0 },
  };
}

/**
 * Typed listener registry. A listener that throws is isolated: the exception is handed to
 * `onListenerError` (default: rethrown on a fresh task so it is visible but cannot corrupt the
 * channel's state mid-operation).
 */
export class ChannelEvents {
  private readonly listeners = new Map<ChannelEventName, Set<(event: never) => void>>();

  constructor(private readonly onListenerError: (error: unknown) => void = (error) => queueMicrotask(() => { throw error; })) {}

  /** Adds `listener` for `name`; returns the function that removes it. */
  on<K extends ChannelEventName>(name: K, listener: ChannelListener<K>): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(listener as (event: never) => void);
    return () => set.delete(listener as (event: never) => void);
  }

  /** True when someone listens to `name`. */
  has(name: ChannelEventName): boolean {
    return (this.listeners.get(name)?.size ?? 0) > 0;
  }

  /** Calls every listener of `name` with `event`. */
  emit<K extends ChannelEventName>(name: K, event: ChannelEventMap[K]): void {
    for (const listener of this.listeners.get(name) ?? []) {
      try {
        (listener as ChannelListener<K>)(event);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }
}

/** Runs `run` after `delayMs`; returns a function that cancels it. */
export interface ChannelScheduler {
  schedule(delayMs: number, run: () => void): () => void;
}

/** A {@link ChannelScheduler} on real timers (unref'd so an idle channel never keeps Node alive). */
export function timerScheduler(): ChannelScheduler {
  return {
    schedule(delayMs, run) {
      const timer = setTimeout(run, Math.max(0, delayMs));
      timer.unref?.();
      return () => clearTimeout(timer);
    },
  };
}
