/**
 * The relay server's public configuration and reporting types: its options (every limit with a
 * safe default), the connection-level events `--verbose` logs, the counters `--json` prints,
 * and the close codes it uses. Kept apart from the server so commands and tests can name them
 * without loading the server's WebSocket machinery.
 */
import type { FaultOptions } from "./limits.js";

/** The default local relay port (`ws://127.0.0.1:7645`); `SDS_RELAY` overrides the URL. */
export const DEFAULT_RELAY_PORT = 7645;
/** Close codes the relay uses besides the standard 1000/1001/1002/1003/1009/1013. */
export const CloseCode = { normal: 1000, goingAway: 1001, protocolError: 1002, unsupportedData: 1003, tooBig: 1009, tryAgainLater: 1013, slowConsumer: 4008 } as const;

/** Options of `RelayServer` (server.ts); every limit has a safe default. */
export interface RelayServerOptions {
  host?: string;
  /** TCP port; 0 picks a free one (default {@link DEFAULT_RELAY_PORT}). */
  port?: number;
  pubsubTopic?: string;
  /** Largest WebSocket message accepted or sent (default 1 MiB + 128 KiB). */
  frameBytesMax?: number;
  /** Bytes queued to one connection before it is a slow consumer (default 8 MiB, ≥ frameBytesMax). */
  sendQueueBytesMax?: number;
  /** Publishes + store queries per second per connection (default 10,000; Infinity = off). */
  ratePerSecond?: number;
  /** Token-bucket burst (default 2 × ratePerSecond). */
  rateBurst?: number;
  connectionsMax?: number;
  /** Distinct topics in use (stored or subscribed) (default 1000). */
  topicsMax?: number;
  subscribersPerTopicMax?: number;
  subscriptionsPerConnectionMax?: number;
  /** Stored entries per topic (default 10,000; 0 = no store). */
  storeEntriesPerTopic?: number;
  storeBytesPerTopic?: number;
  /** SQLite file for the store (default: memory only). */
  storeFile?: string;
  /** Most entries one store query returns (default 1000). */
  storeQueryLimitMax?: number;
  /** Test only: drop/duplicate live deliveries. */
  faults?: FaultOptions;
  /** Wall clock in ms (injected in tests). */
  nowMs?: () => number;
  /** Bound on the shutdown close handshake (default 2000 ms). */
  drainTimeoutMs?: number;
  /** Interval of ws-level pings that detect dead peers (default 30,000 ms; 0 = off). */
  heartbeatIntervalMs?: number;
  /** Do not keep the process alive (for an in-process relay). */
  unref?: boolean;
  relayId?: string;
  /** Connection-level happenings, for `--verbose` logs. Must not throw. */
  onEvent?: (event: RelayServerEvent) => void;
}

/** What `onEvent` reports; `connection` is a per-server sequence number. */
export type RelayServerEvent =
  | { type: "open"; connection: number; remote: string }
  | { type: "close"; connection: number; code: number }
  | { type: "slowConsumer"; connection: number; bufferedBytes: number }
  | { type: "protocolError"; connection: number; code: string };

/** Counters for `--json` stats and tests. */
export interface RelayStats {
  connections: number;
  connectionsTotal: number;
  published: number;
  duplicates: number;
  rejected: number;
  rateLimited: number;
  delivered: number;
  droppedByFaults: number;
  duplicatedByFaults: number;
  slowConsumers: number;
  storeQueries: number;
  protocolErrors: number;
  storedMessages: number;
  topics: number;
}
