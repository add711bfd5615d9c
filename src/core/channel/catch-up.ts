/**
 * How a Reliable Channel closes gaps from the relay store: missing SDS dependencies fetched by
 * retrieval hint (retried every `fetchRetryMs`), hintless ones by a time-range query, and a
 * periodic store sync that reads everything stored since the previous sync (relay store times
 * are strictly increasing, so consecutive windows leave no hole). The store sync is what catches
 * "tail" losses: a last message dropped on a lossy link that no later content message refers to.
 * Every fetched envelope the channel has not already received (by relay hash) goes back through
 * the channel's ingress; SDS drops any other duplicates.
 */
import type { HistoryEntry } from "../protocol/types.js";
import type { ReceivedEnvelope, RelayTransport } from "../relay/transport.js";
import type { ChannelCounters } from "./events.js";
import { MissingDependencies } from "./missing.js";

/** Settings of a {@link StoreCatchUp} (see the channel options of the same names). */
export interface StoreCatchUpOptions {
  fetchRetryMs?: number;
  fetchHintsMax?: number;
  gapLookbackMs?: number;
  gapFetchEnvelopesMax?: number;
  storeSyncIntervalMs?: number;
  sinceTimestampNs?: bigint;
}

/** What a {@link StoreCatchUp} needs from its channel. */
export interface StoreCatchUpHost {
  transport: RelayTransport;
  contentTopic: string;
  now: () => number;
  counters: ChannelCounters;
  /** Feeds one fetched envelope through the channel's ingress. */
  ingest: (message: ReceivedEnvelope) => Promise<void>;
  /**
   * True when the channel already received and processed this envelope (same relay hash, so the
   * same bytes): a store sync re-reads every envelope of its window, and the engine would only
   * decode each again to find a duplicate.
   */
  received?: (hashHex: string) => boolean;
  /** Keeps a background promise visible to `idle()`. */
  track: (promise: Promise<unknown>) => void;
  onError: (error: unknown) => void;
}

/** Decides and runs the channel's store queries. */
export class StoreCatchUp {
  private readonly missing: MissingDependencies;
  private lowestStoredAtNs: bigint | undefined;
  private highestStoredAtNs: bigint | undefined;
  private syncMarkNs: bigint | undefined;
  private lastSyncMs: number | undefined;

  constructor(
    private readonly host: StoreCatchUpHost,
    private readonly options: StoreCatchUpOptions,
  ) {
    this.missing = new MissingDependencies(options.fetchRetryMs ?? 5000, options.fetchHintsMax ?? 10_000);
  }

  private get envelopesMax(): number {
    return this.options.gapFetchEnvelopesMax ?? 2000;
  }

  /** Notes the relay store time of an envelope that arrived (live or fetched). */
  observe(message: ReceivedEnvelope): void {
    const storedAt = message.storedAtNs;
    if (storedAt <= 0n) return;
    if (this.lowestStoredAtNs === undefined || storedAt < this.lowestStoredAtNs) this.lowestStoredAtNs = storedAt;
    if (this.highestStoredAtNs === undefined || storedAt > this.highestStoredAtNs) this.highestStoredAtNs = storedAt;
  }

  /** Records dependencies the engine found missing in `dependent`, and fetches what is due. */
  reportMissing(missing: readonly HistoryEntry[], dependent: ReceivedEnvelope): void {
    this.missing.report(missing, this.host.now(), dependent.storedAtNs);
    this.fetchMissing();
  }

  /** Forgets dependencies that were delivered or given up. */
  resolve(messageIds: Iterable<string>): void {
    this.missing.resolve(messageIds);
  }

  /** Periodic part: retries due hint fetches, hintless gaps, and the store sync. */
  tick(): void {
    this.fetchMissing();
    this.storeSync();
  }

  private fetchMissing(): void {
    const nowMs = this.host.now();
    const since = this.missing.gapSince(nowMs, this.options.gapLookbackMs ?? 600_000);
    if (since !== undefined) this.fetch(this.host.transport.fetchSince(this.host.contentTopic, since, { limit: this.envelopesMax }));
    const hints = this.missing.due(nowMs);
    if (hints.length > 0) this.fetch(this.host.transport.fetchByHashes(this.host.contentTopic, hints));
  }

  private storeSync(): void {
    const intervalMs = this.options.storeSyncIntervalMs ?? 30_000;
    const nowMs = this.host.now();
    if (intervalMs <= 0 || (this.lastSyncMs !== undefined && nowMs - this.lastSyncMs < intervalMs)) return;
    this.lastSyncMs = nowMs;
    if (this.syncMarkNs === undefined) {
      const start = this.options.sinceTimestampNs ?? this.lowestStoredAtNs;
      if (start === undefined) return; // nothing seen yet: no window to check
      this.syncMarkNs = start - 1n;
    }
    const since = this.syncMarkNs + 1n;
    const highestAtStart = this.highestStoredAtNs;
    const limit = this.envelopesMax;
    this.fetch(
      this.host.transport.fetchSince(this.host.contentTopic, since, { limit }).then((found) => {
        const last = found[found.length - 1];
        if (found.length >= limit && last !== undefined) {
          this.syncMarkNs = last.storedAtNs; // more to read: continue from here on the next tick
          this.lastSyncMs = undefined;
        } else {
          let mark = last?.storedAtNs ?? since - 1n;
          if (highestAtStart !== undefined && highestAtStart > mark) mark = highestAtStart;
          this.syncMarkNs = mark;
        }
        return found;
      }),
    );
  }

  private fetch(fetching: Promise<ReceivedEnvelope[]>): void {
    const host = this.host;
    host.counters.fetchRequests += 1;
    host.track(
      fetching.then(
        async (found) => {
          host.counters.fetchedEnvelopes += found.length;
          const received = host.received;
          const fresh = received === undefined ? found : found.filter((message) => !received(message.hashHex));
          host.counters.fetchedAlreadyReceived += found.length - fresh.length;
          // All at once: ingest queues them in order and the engine receives them in batches.
          await Promise.all(fresh.map((message) => host.ingest(message)));
        },
        (error: unknown) => host.onError(error),
      ),
    );
  }
}
