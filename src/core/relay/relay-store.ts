/**
 * The relay's bounded per-topic message store: a ring per content topic, bounded by entry count
 * and bytes, indexed by message hash (retrieval hint) and by relay store time. Store times are
 * nanoseconds from the injected clock, made strictly increasing across the whole store, so they
 * double as the pagination cursor and as the client's "last seen" mark. An optional persistence
 * (SQLite, `store-sqlite.ts`) is written through on every change and loaded at start.
 * Used by the WebSocket server and the in-memory hub alike.
 */
import { RelayError } from "../errors.js";
import { toHex } from "./envelope.js";

/** One stored envelope. */
export interface StoredMessage {
  topic: string;
  /** 32-byte message hash. */
  hash: Uint8Array;
  hashHex: string;
  /** The envelope exactly as published (encoded). */
  envelope: Uint8Array;
  /** Relay store time (ns); strictly increasing across the store. */
  storedAtNs: bigint;
}

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

/** Result of {@link RelayStore.addByHex}: also the hash as bytes (the stored copy when stored). */
export interface AddByHexResult extends AddResult {
  hash: Uint8Array;
}

/** Writes 64 hex digits (lowercase, as `toHex` and `crypto.hash(…, "hex")` give) as 32 bytes into `out`. */
function hexInto(hashHex: string, out: Uint8Array): Uint8Array {
  for (let index = 0; index < out.length; index++) {
    const high = hashHex.charCodeAt(2 * index);
    const low = hashHex.charCodeAt(2 * index + 1);
    out[index] = ((high > 0x39 ? high - 0x57 : high - 0x30) << 4) | (low > 0x39 ? low - 0x57 : low - 0x30);
  }
  return out;
}

/** A page of a since-query. */
export interface StorePage {
  messages: StoredMessage[];
  /** Store time of the last returned message when more remain, else undefined. */
  nextAfterNs: bigint | undefined;
}

const NO_MESSAGES: StoredMessage[] = [];

/**
 * Small envelopes are copied into per-topic slabs of this size instead of one ArrayBuffer each
 * (an allocation and a garbage-collector object per publish). Eviction is oldest first, so a
 * slab is freed once its last envelope is evicted: at most two partly used slabs per topic.
 */
const SLAB_BYTES = 16 * 1024;
/** Envelopes above this get their own copy. */
const SLAB_ENVELOPE_BYTES_MAX = SLAB_BYTES / 8;

class TopicRing {
  messages: StoredMessage[] = [];
  start = 0;
  bytes = 0;
  readonly byHash = new Map<string, StoredMessage>();
  private slab: Uint8Array | undefined;
  private slabUsed = 0;

  /** Bytes of `envelope` the ring owns: `envelope` itself when `owned` and large, else a copy. */
  copy(envelope: Uint8Array, owned: boolean): Uint8Array {
    const length = envelope.length;
    if (length > SLAB_ENVELOPE_BYTES_MAX) return owned ? envelope : new Uint8Array(envelope);
    return this.slabCopy(envelope);
  }

  /** A copy of small `bytes` (≤ SLAB_ENVELOPE_BYTES_MAX) in the current slab: a view, no ArrayBuffer of its own. */
  slabCopy(bytes: Uint8Array): Uint8Array {
    const view = this.slabView(bytes.length);
    view.set(bytes);
    return view;
  }

  /** `length` (≤ SLAB_ENVELOPE_BYTES_MAX) fresh bytes of the current slab. */
  slabView(length: number): Uint8Array {
    if (this.slab === undefined || this.slabUsed + length > SLAB_BYTES) {
      this.slab = new Uint8Array(SLAB_BYTES);
      this.slabUsed = 0;
    }
    const view = this.slab.subarray(this.slabUsed, this.slabUsed + length);
    this.slabUsed += length;
    return view;
  }

  get size(): number {
    return this.messages.length - this.start;
  }
  oldest(): StoredMessage | undefined {
    return this.messages[this.start];
  }
  push(message: StoredMessage): void {
    this.messages.push(message);
    this.bytes += message.envelope.length;
    this.byHash.set(message.hashHex, message);
  }
  shift(): StoredMessage {
    const message = this.messages[this.start] as StoredMessage;
    this.start += 1;
    this.bytes -= message.envelope.length;
    this.byHash.delete(message.hashHex);
    if (this.start > 1024 && this.start * 2 > this.messages.length) {
      this.messages = this.messages.slice(this.start);
      this.start = 0;
    }
    return message;
  }
  /** Index (absolute in `messages`) of the first message with storedAtNs >= t. */
  lowerBound(t: bigint): number {
    let low = this.start;
    let high = this.messages.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.messages[middle] as StoredMessage).storedAtNs < t) low = middle + 1;
      else high = middle;
    }
    return low;
  }
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
      ring = new TopicRing();
      this.topics.set(message.topic, ring);
    }
    if (ring.byHash.has(message.hashHex)) return;
    ring.push(message);
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
   * @throws RelayError `E_RELAY_REJECTED` when `topic` is new and the topic cap is reached,
   * or the envelope alone exceeds `bytesPerTopicMax`. Persistence failures propagate.
   */
  add(topic: string, hash: Uint8Array, envelope: Uint8Array, owned = false): AddResult {
    const { duplicate, storedAtNs } = this.insert(topic, toHex(hash), hash, envelope, owned);
    return { duplicate, storedAtNs };
  }

  /**
   * {@link add} for a hash known as 64 lowercase hex digits (the relay's publish path hashes
   * straight to hex): the stored copy of the hash is written from them, and returned.
   */
  addByHex(topic: string, hashHex: string, envelope: Uint8Array): AddByHexResult {
    return this.insert(topic, hashHex, undefined, envelope, false);
  }

  private insert(topic: string, hashHex: string, hash: Uint8Array | undefined, envelope: Uint8Array, owned: boolean): AddByHexResult {
    const existing = this.topics.get(topic)?.byHash.get(hashHex);
    if (existing !== undefined) return { duplicate: true, storedAtNs: existing.storedAtNs, hash: existing.hash };
    if (this.entriesPerTopicMax === 0) return { duplicate: false, storedAtNs: 0n, hash: hash ?? hexInto(hashHex, new Uint8Array(hashHex.length / 2)) };
    if (!this.acceptsTopic(topic)) throw new RelayError("E_RELAY_REJECTED", `relay store topic cap of ${this.topicsMax} reached`, { topicsMax: this.topicsMax, topic });
    if (envelope.length > this.bytesPerTopicMax) throw new RelayError("E_RELAY_REJECTED", `envelope of ${envelope.length} bytes exceeds the per-topic store of ${this.bytesPerTopicMax}`, { bytesPerTopicMax: this.bytesPerTopicMax });
    let ring = this.topics.get(topic);
    const fresh = ring === undefined;
    ring ??= new TopicRing();
    const storedAtNs = this.relayTimeNs();
    // The hash goes into the slab too (32 bytes): `slice()` would allocate an ArrayBuffer per publish.
    const hashCopy = hash === undefined ? hexInto(hashHex, ring.slabView(hashHex.length / 2)) : hash.length <= SLAB_ENVELOPE_BYTES_MAX ? ring.slabCopy(hash) : hash.slice();
    const message: StoredMessage = { topic, hash: hashCopy, hashHex, envelope: ring.copy(envelope, owned), storedAtNs };
    // Compute evictions first so persistence sees one atomic change.
    // The common case evicts nothing and allocates nothing beyond the entry.
    let evicted: StoredMessage[] = NO_MESSAGES;
    let size = ring.size + 1;
    let bytes = ring.bytes + envelope.length;
    for (let index = ring.start; size > this.entriesPerTopicMax || bytes > this.bytesPerTopicMax; index++) {
      const old = ring.messages[index] as StoredMessage;
      if (evicted === NO_MESSAGES) evicted = [];
      evicted.push(old);
      size -= 1;
      bytes -= old.envelope.length;
    }
    this.persistence?.apply(message, evicted);
    for (let index = 0; index < evicted.length; index++) ring.shift();
    ring.push(message);
    if (fresh) this.topics.set(topic, ring);
    this.lastStoredAtNs = storedAtNs;
    return { duplicate: false, storedAtNs, hash: hashCopy };
  }

  /** Stored messages among `hashes` on `topic`, in the order asked; unknown hashes are skipped. */
  byHashes(topic: string, hashes: readonly Uint8Array[]): StoredMessage[] {
    const ring = this.topics.get(topic);
    if (ring === undefined) return [];
    const found: StoredMessage[] = [];
    for (const hash of hashes) {
      const message = ring.byHash.get(toHex(hash));
      if (message !== undefined) found.push(message);
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
    let index = ring.lowerBound(from);
    for (; index < ring.messages.length && messages.length < limit; index++) {
      const message = ring.messages[index] as StoredMessage;
      if (messages.length > 0 && options.bytesMax !== undefined && bytes + message.envelope.length > options.bytesMax) break;
      messages.push(message);
      bytes += message.envelope.length;
    }
    const more = index < ring.messages.length;
    return { messages, nextAfterNs: more && messages.length > 0 ? (messages[messages.length - 1] as StoredMessage).storedAtNs : undefined };
  }

  /** Closes the persistence, if any. */
  close(): void {
    this.persistence?.close();
  }
}
