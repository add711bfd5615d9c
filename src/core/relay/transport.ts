/**
 * The client-facing relay transport the Reliable Channel codes against. Two implementations:
 * `RelayClient` (WebSocket, `client.ts`) and `MemoryHub` peers (in-memory, `memory-hub.ts`, for
 * tests and the simulator). A "topic" here is always a content topic (`/sds/1/<name>/proto`);
 * the relay's pubsub topic is fixed per relay and only enters the message hash.
 */
import type { WakuEnvelope } from "./envelope.js";

/** The relay's confirmation that it accepted (and, unless ephemeral, stored) a publish. */
export interface PublishAck {
  /** Deterministic message hash (32 bytes) — the SDS retrieval hint. */
  hash: Uint8Array;
  /** `hash` as lower-case hex. */
  hashHex: string;
  /** True when the relay already held an envelope with this hash (it still fanned it out). */
  duplicate: boolean;
  /** Relay-assigned store time in ns (strictly increasing per relay); 0n for ephemeral envelopes. */
  storedAtNs: bigint;
}

/** An envelope handed to a subscriber, live or from the relay's store. */
export interface ReceivedEnvelope {
  /** Content topic it was published on. */
  topic: string;
  envelope: WakuEnvelope;
  /** Deterministic message hash, 32 bytes. */
  hash: Uint8Array;
  /** `hash` as lower-case hex. */
  hashHex: string;
  /** Relay store time in ns; 0n when not stored (ephemeral). Monotonic per relay. */
  storedAtNs: bigint;
  /** `live` fan-out, or `store` (catch-up after a (re)connect or an explicit fetch). */
  source: "live" | "store";
}

/** Called once per distinct message (duplicates by hash are filtered by the transport). */
export type EnvelopeHandler = (message: ReceivedEnvelope) => void;

/** Handle returned by {@link RelayTransport.subscribe}. */
export interface Subscription {
  /** Stops delivering to this handler; the last handler of a topic unsubscribes at the relay. */
  unsubscribe(): void;
}

/** Options of {@link RelayTransport.subscribe}. */
export interface SubscribeOptions {
  /**
   * Catch up from the relay store on everything stored at or after this relay time (ns),
   * e.g. the `storedAtNs` of the last message seen in a previous run plus one. Without it,
   * history starts at the moment of subscribing.
   */
  sinceTimestampNs?: bigint;
}

/** Options of {@link RelayTransport.fetchSince}. */
export interface FetchSinceOptions {
  /** Most envelopes to return in total (default: all, page by page). */
  limit?: number;
}

/**
 * What a Reliable Channel needs from a relay: publish with confirmation, subscribe, and the
 * two store queries that close gaps (by retrieval hint, and since a relay time).
 */
export interface RelayTransport {
  /**
   * Publishes `envelope` on `topic` (its `contentTopic` must equal `topic` or be empty, in which
   * case it is set). Resolves on the relay's acknowledgement.
   * @throws RelayError `E_RELAY_REJECTED`, `E_RELAY_RATE_LIMITED`, `E_NOT_CONFIRMED` (timeout while
   * connected), `E_RELAY_UNAVAILABLE` (no connection), `E_RELAY_CLOSED`.
   */
  publish(topic: string, envelope: WakuEnvelope): Promise<PublishAck>;
  /** Delivers every distinct envelope on `topic` to `handler`, with store catch-up. */
  subscribe(topic: string, handler: EnvelopeHandler, options?: SubscribeOptions): Subscription;
  /** Fetches stored envelopes by hash (missing ones are simply absent from the result). */
  fetchByHashes(topic: string, hashes: readonly Uint8Array[]): Promise<ReceivedEnvelope[]>;
  /** Fetches stored envelopes with `storedAtNs >= sinceTimestampNs`, oldest first. */
  fetchSince(topic: string, sinceTimestampNs: bigint, options?: FetchSinceOptions): Promise<ReceivedEnvelope[]>;
  /** Releases the connection; pending operations fail with `E_RELAY_CLOSED`. Idempotent. */
  close(): Promise<void>;
}
