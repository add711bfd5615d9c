/**
 * An in-memory relay with the same client-facing `RelayTransport` as `RelayClient`, for unit
 * tests and the deterministic simulator: the same store (bounded, hash-indexed, relay-timed),
 * the same message hash, the same seeded fault mode, and peers that can go offline and come
 * back (catching up from the store like a reconnecting client). Deliveries are scheduled through
 * an injectable `schedule` (default `queueMicrotask`) so a simulator controls their order.
 */
import { RelayError, SdsError } from "../errors.js";
import { DEFAULT_PUBSUB_TOPIC, decodeEnvelope, encodeEnvelope, isContentTopic, messageHash, toHex, type WakuEnvelope } from "./envelope.js";
import { SeenHashes } from "./dedup.js";
import { faultDecider, type FaultDecider, type FaultOptions } from "./limits.js";
import { RelayStore, type StoredMessage } from "./relay-store.js";
import type { EnvelopeHandler, FetchSinceOptions, PublishAck, ReceivedEnvelope, RelayTransport, SubscribeOptions, Subscription } from "./transport.js";

/** Options of {@link MemoryHub}. */
export interface MemoryHubOptions {
  pubsubTopic?: string;
  storeEntriesPerTopic?: number;
  storeBytesPerTopic?: number;
  topicsMax?: number;
  /** Drop/duplicate live deliveries with a seeded PRNG. */
  faults?: FaultOptions;
  /** Clock in ms for relay store times (default Date.now). */
  nowMs?: () => number;
  /** Runs a delivery later (default queueMicrotask). */
  schedule?: (task: () => void) => void;
  /** Distinct hashes each peer remembers for de-duplication (default 10,000). */
  dedupEntriesMax?: number;
}

/** Counters of a {@link MemoryHub}. */
export interface MemoryHubStats {
  published: number;
  delivered: number;
  droppedByFaults: number;
  duplicatedByFaults: number;
  storedMessages: number;
}

/** The in-memory relay. `connect()` gives one peer's transport. */
export class MemoryHub {
  readonly pubsubTopic: string;
  /** @internal */ readonly store: RelayStore;
  /** @internal */ readonly peers = new Set<MemoryPeer>();
  /** @internal */ readonly schedule: (task: () => void) => void;
  /** @internal */ readonly dedupEntriesMax: number;
  private readonly faults: FaultDecider;
  private readonly counters = { published: 0, delivered: 0, droppedByFaults: 0, duplicatedByFaults: 0 };

  constructor(options: MemoryHubOptions = {}) {
    this.pubsubTopic = options.pubsubTopic ?? DEFAULT_PUBSUB_TOPIC;
    const nowMs = options.nowMs ?? Date.now;
    this.store = new RelayStore({ entriesPerTopicMax: options.storeEntriesPerTopic, bytesPerTopicMax: options.storeBytesPerTopic, topicsMax: options.topicsMax, nowNs: () => BigInt(Math.floor(nowMs())) * 1_000_000n });
    this.faults = faultDecider(options.faults);
    this.schedule = options.schedule ?? queueMicrotask;
    this.dedupEntriesMax = options.dedupEntriesMax ?? 10_000;
  }

  /** A new peer, online. */
  connect(): MemoryPeer {
    const peer = new MemoryPeer(this);
    this.peers.add(peer);
    return peer;
  }

  /** Current counters. */
  stats(): MemoryHubStats {
    return { ...this.counters, storedMessages: this.store.messageCount };
  }

  /** @internal Stores (unless ephemeral) and fans out to every other online subscriber. */
  publish(from: MemoryPeer, topic: string, envelope: WakuEnvelope): PublishAck {
    if (!isContentTopic(topic)) throw new RelayError("E_RELAY_REJECTED", `not a content topic: ${JSON.stringify(topic)}`);
    const full = { ...envelope, contentTopic: topic };
    const bytes = encodeEnvelope(full);
    const hash = messageHash(this.pubsubTopic, full);
    const stored = full.ephemeral === true ? { duplicate: false, storedAtNs: 0n } : this.store.add(topic, hash, bytes, true);
    this.counters.published += 1;
    const message: StoredMessage = { topic, hash, hashHex: toHex(hash), envelope: bytes, storedAtNs: stored.storedAtNs };
    for (const peer of this.peers) {
      if (peer === from || !peer.online || !peer.isSubscribed(topic)) continue;
      const copies = this.faults();
      if (copies === 0) this.counters.droppedByFaults += 1;
      if (copies === 2) this.counters.duplicatedByFaults += 1;
      for (let copy = 0; copy < copies; copy++) {
        this.counters.delivered += 1;
        this.schedule(() => peer.receive(message, "live"));
      }
    }
    return { hash, hashHex: message.hashHex, duplicate: stored.duplicate, storedAtNs: stored.storedAtNs };
  }
}

interface TopicState {
  handlers: Set<EnvelopeHandler>;
  nextSinceNs: bigint;
}

/** One peer's transport on a {@link MemoryHub}. */
export class MemoryPeer implements RelayTransport {
  /** False while disconnected: publishes fail, live deliveries are missed. */
  online = true;
  private closed = false;
  private readonly topics = new Map<string, TopicState>();
  private readonly seen: SeenHashes;

  constructor(private readonly hub: MemoryHub) {
    this.seen = new SeenHashes(hub.dedupEntriesMax);
  }

  /** @internal */
  isSubscribed(topic: string): boolean {
    return this.topics.has(topic);
  }

  /** Simulates a dropped connection. */
  disconnect(): void {
    this.online = false;
  }

  /** Comes back online and catches up from the store on every subscribed topic. */
  reconnect(): void {
    if (this.closed) return;
    this.online = true;
    for (const topic of this.topics.keys()) this.catchUp(topic);
  }

  private catchUp(topic: string): void {
    const state = this.topics.get(topic);
    if (state === undefined) return;
    const page = this.hub.store.since(topic, state.nextSinceNs, Number.MAX_SAFE_INTEGER);
    for (const message of page.messages) this.hub.schedule(() => this.receive(message, "store"));
  }

  /** @internal Delivers one message unless offline, unsubscribed, or seen already. */
  receive(message: StoredMessage, source: "live" | "store"): void {
    const state = this.topics.get(message.topic);
    if (!this.online || state === undefined) return;
    if (message.storedAtNs + 1n > state.nextSinceNs) state.nextSinceNs = message.storedAtNs + 1n;
    if (!this.seen.add(message.topic, message.hashHex)) return;
    const received: ReceivedEnvelope = { topic: message.topic, envelope: decodeEnvelope(message.envelope), hash: message.hash, hashHex: message.hashHex, storedAtNs: message.storedAtNs, source };
    for (const handler of [...state.handlers]) handler(received);
  }

  private ensureUsable(): void {
    if (this.closed) throw new RelayError("E_RELAY_CLOSED", "memory peer closed");
    if (!this.online) throw new RelayError("E_RELAY_UNAVAILABLE", "memory peer offline");
  }

  /** @inheritdoc */
  async publish(topic: string, envelope: WakuEnvelope): Promise<PublishAck> {
    if (envelope.contentTopic !== "" && envelope.contentTopic !== topic) throw new SdsError("E_INPUT_INVALID", `envelope content topic ${envelope.contentTopic} differs from ${topic}`);
    this.ensureUsable();
    const ack = this.hub.publish(this, topic, envelope);
    this.seen.add(topic, ack.hashHex);
    return ack;
  }

  /** @inheritdoc */
  subscribe(topic: string, handler: EnvelopeHandler, options: SubscribeOptions = {}): Subscription {
    let state = this.topics.get(topic);
    if (state === undefined) {
      state = { handlers: new Set(), nextSinceNs: options.sinceTimestampNs ?? this.hub.store.relayTimeNs() };
      this.topics.set(topic, state);
      if (options.sinceTimestampNs !== undefined && this.online) this.catchUp(topic);
    }
    state.handlers.add(handler);
    return {
      unsubscribe: () => {
        const current = this.topics.get(topic);
        current?.handlers.delete(handler);
        if (current?.handlers.size === 0) this.topics.delete(topic);
      },
    };
  }

  private toReceived(message: StoredMessage): ReceivedEnvelope {
    return { topic: message.topic, envelope: decodeEnvelope(message.envelope), hash: message.hash, hashHex: message.hashHex, storedAtNs: message.storedAtNs, source: "store" };
  }

  /** @inheritdoc */
  async fetchByHashes(topic: string, hashes: readonly Uint8Array[]): Promise<ReceivedEnvelope[]> {
    this.ensureUsable();
    return this.hub.store.byHashes(topic, hashes).map((message) => this.toReceived(message));
  }

  /** @inheritdoc */
  async fetchSince(topic: string, sinceTimestampNs: bigint, options: FetchSinceOptions = {}): Promise<ReceivedEnvelope[]> {
    this.ensureUsable();
    const page = this.hub.store.since(topic, sinceTimestampNs, options.limit ?? Number.MAX_SAFE_INTEGER);
    return page.messages.map((message) => this.toReceived(message));
  }

  /** @inheritdoc */
  async close(): Promise<void> {
    this.closed = true;
    this.online = false;
    this.topics.clear();
    this.hub.peers.delete(this);
  }
}
