/**
 * The relay's bounded per-topic message store: a ring per content topic (`topic-ring.ts`),
 * bounded by entry count and bytes, indexed by message hash (retrieval hint) and by relay store
 * time. Store times are nanoseconds from the injected clock, made strictly increasing across the
 * whole store, so they double as the pagination cursor and as the client's "last seen" mark. An
 * optional persistence (SQLite, `store-sqlite.ts`) is written through on every change and loaded
 * at start. Used by the WebSocket server and the in-memory hub alike.
 */
import { RelayError } from "../errors.js";
import { StoredEntry, type StoredMessage, TopicRing } from "./topic-ring.js";

export type { StoredMessage } from "./topic-ring.js";

/** Write-through persistence; every call is one atomic change. */
export interface RelayStorePersistence {
  /** Every persisted message, oldest first. */
  loadAll(): StoredMessage[];
  /** Inserts `message` and deletes `evicted` (by topic and store time) atomically. */
  apply(message: StoredMessage, evicted: readonly StoredMessage[]): void;
  close(): void;
}

/** Bounds and dependencies of a {@link RelayStore}. */
export interface RelayStoreOptions {
  /** Entries kept per topic; the oldest is evicted first (default 10,000). 0 disables storing. */
  entriesPerTopicMax?: number;
  /** Envelope bytes kept per topic (default 64 MiB). */
  bytesPerTopicMax?: number;
  /** Distinct topics the store holds (default 1,000); a new topic beyond it is refused. */
  topicsMax?: number;
  /** Current time in ns (injected for tests). */
  nowNs: () => bigint;
  persistence?: RelayStorePersistence;
}

/** Result of {@link RelayStore.add}. */
export interface AddResult {
  duplicate: boolean;
  storedAtNs: bigint;
}

/** A page of a since-query. */
export interface StorePage {
  messages: StoredMessage[];
  /** Store time of the last returned message when more remain, else undefined. */
  nextAfterNs: bigint | undefined;
}

/** A bounded, hash-indexed, time-ordered per-topic store. Not thread-safe (one event loop). */
export class RelayStore {
  readonly entriesPerTopicMax: number;
  readonly bytesPerTopicMax: number;
  readonly topicsMax: number;
  private readonly topics = new Map<string, TopicRing>();
  private lastStoredAtNs = 0n;
  private readonly nowNs: () => bigint;
  private readonly persistence: RelayStorePersistence | undefined;

  constructor(options: RelayStoreOptions) {
    this.entriesPerTopicMax = options.entriesPerTopicMax ?? 10_000;
    this.bytesPerTopicMax = options.bytesPerTopicMax ?? 64 * 1024 * 1024;
    this.topicsMax = options.topicsMax ?? 1000;
    this.nowNs = options.nowNs;
    this.persistence = options.persistence;
    for (const message of this.persistence?.loadAll() ?? []) this.load(message);
  }

  private load(message: StoredMessage): void {
    let ring = this.topics.get(message.topic);
    if (ring === undefined) {
      ring = new TopicRing(this.entriesPerTopicMax);
      this.topics.set(message.topic, ring);
    }
    if (ring.find(message.hash) >= 0) return;
    ring.push(message.hash, message.envelope, true, message.storedAtNs);
    if (message.storedAtNs > this.lastStoredAtNs) this.lastStoredAtNs = message.storedAtNs;
    while (ring.size > this.entriesPerTopicMax || ring.bytes > this.bytesPerTopicMax) ring.shift();
  }

  /** Relay time now: never below the last store time + 1, so new messages sort after it. */
  relayTimeNs(): bigint {
    const now = this.nowNs();
    return now > this.lastStoredAtNs ? now : this.lastStoredAtNs + 1n;
  }

  /** Number of topics holding messages. */
  get topicCount(): number {
    return this.topics.size;
  }

  /** Total stored messages over all topics. */
  get messageCount(): number {
    let count = 0;
    for (const ring of this.topics.values()) count += ring.size;
    return count;
  }

  /** True when `topic` holds messages. */
  hasTopic(topic: string): boolean {
    return this.topics.has(topic);
  }

  /** True when the store can hold `topic` (already known, or room for one more). */
  acceptsTopic(topic: string): boolean {
    return this.topics.has(topic) || this.topics.size < this.topicsMax;
  }

  /**
   * Stores a copy of an envelope unless its hash is already held on `topic` (`envelope` may be a
   * view of received bytes; the store never keeps it). With `owned`, the caller hands over
   * `envelope` (a fresh array nobody else writes): a large one is then kept without a copy.
   * `hash` is copied too (it may be a scratch the caller reuses).
   * @throws RelayError `E_RELAY_REJECTED` when `topic` is new and the topic cap is reached,
   * or the envelope alone exceeds `bytesPerTopicMax`. Persistence failures propagate.
   */
  add(topic: string, hash: Uint8Array, envelope: Uint8Array, owned = false): AddResult {
    let ring = this.topics.get(topic);
    const place = ring === undefined ? -1 : ring.find(hash);
    if (place >= 0) return { duplicate: true, storedAtNs: (ring as TopicRing).storedAtNs(place) };
    if (this.entriesPerTopicMax === 0) return { duplicate: false, storedAtNs: 0n };
    if (!this.acceptsTopic(topic)) throw new RelayError("E_RELAY_REJECTED", `relay store topic cap of ${this.topicsMax} reached`, { topicsMax: this.topicsMax, topic });
    if (envelope.length > this.bytesPerTopicMax) throw new RelayError("E_RELAY_REJECTED", `envelope of ${envelope.length} bytes exceeds the per-topic store of ${this.bytesPerTopicMax}`, { bytesPerTopicMax: this.bytesPerTopicMax });
    const fresh = ring === undefined;
    ring ??= new TopicRing(this.entriesPerTopicMax);
    const storedAtNs = this.relayTimeNs();
    // Evictions are counted first, so that persistence sees one atomic change.
    let evictions = 0;
    let size = ring.size + 1;
    let bytes = ring.bytes + envelope.length;
    while (size > this.entriesPerTopicMax || bytes > this.bytesPerTopicMax) {
      bytes -= ring.envelopeLength(evictions);
      evictions += 1;
      size -= 1;
    }
    if (this.persistence !== undefined) {
      const evicted: StoredMessage[] = [];
      for (let place = 0; place < evictions; place++) evicted.push(ring.message(topic, place));
      this.persistence.apply(new StoredEntry(topic, hash, envelope, storedAtNs), evicted);
    }
    for (let index = 0; index < evictions; index++) ring.shift();
    ring.push(hash, envelope, owned, storedAtNs);
    if (fresh) this.topics.set(topic, ring);
    this.lastStoredAtNs = storedAtNs;
    return { duplicate: false, storedAtNs };
  }

  /** Stored messages among `hashes` on `topic`, in the order asked; unknown hashes are skipped. */
  byHashes(topic: string, hashes: readonly Uint8Array[]): StoredMessage[] {
    const ring = this.topics.get(topic);
    if (ring === undefined) return [];
    const found: StoredMessage[] = [];
    for (const hash of hashes) {
      const place = ring.find(hash);
      if (place >= 0) found.push(ring.message(topic, place));
    }
    return found;
  }

  /**
   * Messages on `topic` with `storedAtNs >= sinceNs` (and `> afterNs` when paging), oldest
   * first, at most `limit` of them and at most `bytesMax` envelope bytes (at least one message).
   */
  since(topic: string, sinceNs: bigint, limit: number, options: { afterNs?: bigint; bytesMax?: number } = {}): StorePage {
    const ring = this.topics.get(topic);
    if (ring === undefined || limit <= 0) return { messages: [], nextAfterNs: undefined };
    const from = options.afterNs !== undefined && options.afterNs + 1n > sinceNs ? options.afterNs + 1n : sinceNs;
    const messages: StoredMessage[] = [];
    let bytes = 0;
    let place = ring.lowerBound(from);
    for (; place < ring.size && messages.length < limit; place++) {
      const length = ring.envelopeLength(place);
      if (messages.length > 0 && options.bytesMax !== undefined && bytes + length > options.bytesMax) break;
      messages.push(ring.message(topic, place));
      bytes += length;
    }
    const more = place < ring.size;
    return { messages, nextAfterNs: more && messages.length > 0 ? (messages[messages.length - 1] as StoredMessage).storedAtNs : undefined };
  }

  /** Closes the persistence, if any. */
  close(): void {
    this.persistence?.close();
  }
}
