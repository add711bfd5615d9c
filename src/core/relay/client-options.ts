/**
 * The options of {@link RelayClient} and the connection events it reports: what a caller tunes
 * (timeouts, reconnect backoff, de-duplication, paging, publish window, frame limit) kept apart
 * from the client's machinery so both read on their own.
 */
import type { RelayClient } from "./client.js";

/** Something that happened to the connection, for status lines and tests. */
export type RelayClientEvent =
  | { type: "connected"; url: string; pubsubTopic: string; reconnect: boolean }
  | { type: "disconnected"; code: number; reason: string }
  | { type: "reconnecting"; attempt: number; delayMs: number }
  | { type: "gaveUp"; attempts: number }
  | { type: "caughtUp"; topic: string; messages: number }
  | { type: "relayError"; code: string; reason: string; topic: string }
  | { type: "slowConsumer"; bufferedBytes: number }
  | { type: "handlerError"; error: unknown };

/** Options of {@link RelayClient}. */
export interface RelayClientOptions {
  /** Publish confirmation timeout (default 10,000 ms). */
  publishTimeoutMs?: number;
  /** Store query timeout (default 10,000 ms). */
  requestTimeoutMs?: number;
  /** First reconnect delay before jitter (default 100 ms), doubled per attempt up to `reconnectDelayMaxMs`. */
  reconnectDelayMs?: number;
  /** Cap on one reconnect delay (default 5,000 ms). */
  reconnectDelayMaxMs?: number;
  /** Reconnect attempts after a drop before giving up (default Infinity). */
  reconnectAttemptsMax?: number;
  /** Attempts of the first `connect()` (default 1: fail fast with E_RELAY_UNAVAILABLE). */
  connectAttemptsMax?: number;
  /** Randomness for jitter, in [0, 1) (default Math.random). */
  random?: () => number;
  /** Distinct (topic, hash) pairs remembered for de-duplication (default 10,000). */
  dedupEntriesMax?: number;
  /** App-level ping interval (default 15,000 ms; 0 = off); no pong within it → reconnect. */
  pingIntervalMs?: number;
  /** Entries asked per store page (default 500). */
  storePageLimit?: number;
  /**
   * Publishes awaiting their ack at once (default 1000); more wait in a local FIFO, so a bulk
   * sender cannot flood the relay's rate limit. The publish timeout starts when a publish leaves
   * the queue.
   */
  publishInFlightMax?: number;
  /** Largest frame accepted from the relay (default 64 MiB: above any relay's `--max-payload`). */
  incomingFrameBytesMax?: number;
  onEvent?: (event: RelayClientEvent) => void;
  /**
   * Runs before every reconnect attempt (errors ignored); `ensureLocalRelay` uses it to start a
   * relay in-process when the local one went away.
   */
  beforeReconnect?: () => Promise<void>;
}
