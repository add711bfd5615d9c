/**
 * Types of the Reliable Channel's public surface: the SDS engine it drives (structurally the
 * `ReliabilityManager` of src/core/reliability-manager.ts), its options with their units and
 * defaults, and what `send` returns. Kept apart so callers can import them without the class.
 */
import type { SdsError } from "../errors.js";
import type { Delivered } from "../protocol/engine/events.js";
import type { DialectName, HistoryEntry } from "../protocol/types.js";
import type { RelayTransport } from "../relay/transport.js";
import type { ChannelCipherOptions } from "./encryption.js";
import type { ChannelScheduler } from "./events.js";
import type { RateLimitConfig } from "./rate-limit.js";
import type { ReassemblerOptions } from "./reassembly.js";

/** What the channel needs from an SDS engine (the `ReliabilityManager` API of issue 3). */
export interface ReliabilityEngine {
  /** Wire dialect, used to tell which channel a `tick` wire belongs to (auto-detected when absent). */
  readonly dialect?: { readonly name: DialectName };
  send(channelId: string, payload: Uint8Array, options?: { ephemeral?: boolean }): Promise<{ messageId: string; wire: Uint8Array }>;
  /** Optional group commit: many content messages, one store transaction. */
  sendMany?(channelId: string, payloads: readonly Uint8Array[]): Promise<Array<{ messageId: string; wire: Uint8Array }>>;
  receive(
    wire: Uint8Array,
    options?: { retrievalHint?: Uint8Array; channelId?: string },
  ): Promise<{ channelId: string; messageId: string; duplicate: boolean; ignored?: boolean; delivered: Delivered[]; missing: HistoryEntry[]; acknowledged: string[] }>;
  /**
   * Optional group receive (named apart from the ReliabilityManager's own `receiveMany(wires)`,
   * whose shape differs, so a manager passed as the engine falls back to `receive`): many wires of `channelId` with ONE store commit, results in input
   * order; a wire refused on its own (undecodable, another channel: `ignored`) yields
   * `{ error }` or an ignored result in its slot. A failed commit rejects the whole call.
   */
  receiveBatch?(
    channelId: string,
    items: ReadonlyArray<{ wire: Uint8Array; retrievalHint?: Uint8Array }>,
  ): Promise<Array<Awaited<ReturnType<ReliabilityEngine["receive"]>> | { error: SdsError }>>;
  /**
   * Periodic duties of every channel of the engine. `publish` (optional for older engines)
   * names each wire's channel; without it the channel decodes each wire to find out.
   */
  tick(): Promise<{ wire: Uint8Array[]; publish?: Array<{ channelId: string; wire: Uint8Array }>; delivered: Delivered[]; lost: HistoryEntry[]; acknowledged: string[]; undelivered: string[] }>;
  /**
   * Records the retrieval hint (envelope hash) of one of our own messages, so later causal
   * histories carry it and peers that missed the message can fetch it from the store.
   * Optional: without it only receivers' hints circulate.
   */
  setRetrievalHint?(channelId: string, messageId: string, hint: Uint8Array): Promise<void>;
}

/** Options of a {@link ReliableChannel}. */
export interface ReliableChannelOptions {
  /** SDS channel id; also names the content topic `/sds/1/<channelId>/proto` unless `contentTopic` is set. */
  channelId: string;
  contentTopic?: string;
  engine: ReliabilityEngine;
  transport: RelayTransport;
  /** Clock in ms (default Date.now); stamps envelopes and drives reassembly timeouts and rate limits. */
  now?: () => number;
  /** Runs periodic ticks; without one, call {@link ReliableChannel.tick} yourself. */
  scheduler?: ChannelScheduler;
  /** Interval between engine ticks (resends, sync, repair, sweeps), ms (default 1000). */
  tickIntervalMs?: number;
  /** 32-byte channel key: enables AES-256-GCM on every envelope payload. */
  key?: Uint8Array;
  cipher?: ChannelCipherOptions;
  /** Limit first transmissions per epoch; resends and repairs are not charged. */
  rateLimit?: RateLimitConfig;
  /** Segments waiting for rate-limit budget at most (default 10 000). */
  rateLimitQueueMax?: number;
  /** Bound on one encoded segment, bytes (default 102 400). */
  segmentBytesMax?: number;
  /** Most segments per payload (default 256). */
  totalSegmentCountMax?: number;
  /** Reassembly limits (sets, buffered bytes, per-set timeout). */
  reassembly?: Omit<ReassemblerOptions, "now" | "segmentBytesMax" | "totalSegmentCountMax">;
  /** Wrap payloads in segments (default true). Off: SDS content is the raw payload (js-waku style, ≤ one message). */
  segmentation?: boolean;
  /** Deliver SDS content that is not a segment as-is (default true: peers that do not segment). */
  acceptUnsegmented?: boolean;
  /** Send requests tracked at once (default 100 000). */
  requestsMax?: number;
  /** Envelopes waiting for the engine at once before new ones are dropped (default 10 000). */
  incomingQueueMax?: number;
  /** Do not ask the store for the same retrieval hint again sooner than this, ms (default 5000). */
  fetchRetryMs?: number;
  /** Missing dependencies remembered for fetching (default 10 000). */
  fetchHintsMax?: number;
  /** A hintless gap is fetched by time from this long before the dependent message's store time, ms (default 600 000). */
  gapLookbackMs?: number;
  /** Fetch everything stored since the previous store sync this often, ms; 0 turns it off (default 30 000). */
  storeSyncIntervalMs?: number;
  /** Most envelopes one time-range fetch (gap or store sync) asks for (default 2000). */
  gapFetchEnvelopesMax?: number;
  /** Catch up from the relay store from this relay time (ns) when starting. */
  sinceTimestampNs?: bigint;
  /** Id of a new send request (default randomUUID). */
  newRequestId?: () => string;
}

/** What {@link ReliableChannel.send} returns once every segment is SDS-wrapped and queued. */
export interface SendReceipt {
  requestId: string;
  /** SDS message ids of the segments, in order. */
  messageIds: string[];
}

/** Where a request stands, also after it is final (recent ones are remembered). */
export type RequestOutcome = "pending" | "sent" | "delivered" | "undelivered" | "unknown";
