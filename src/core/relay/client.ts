/**
 * `RelayClient`: the WebSocket implementation of `RelayTransport`. It reconnects with bounded
 * exponential backoff and jitter, resubscribes, re-sends unacknowledged publishes and pending
 * queries, and after every (re)connect catches up from the relay store since the last relay time
 * it saw per topic, so nothing published while it was away is missed. Duplicate deliveries
 * (faults, catch-up overlapping live traffic, its own publishes) are filtered by a bounded LRU of
 * message hashes. Time and randomness for backoff are injectable.
 */
import { WebSocket } from "ws";
import { RelayError, SdsError } from "../errors.js";
import { decodeEnvelope, encodeEnvelope, toHex, type WakuEnvelope } from "./envelope.js";
import { PendingRequests } from "./client-requests.js";
import { SeenHashes } from "./dedup.js";
import { isLoopbackUrl, zeroMask } from "./masking.js";
import { decodeFrame } from "./frame-decode.js";
import { DEFAULT_FRAME_LIMITS, encodeFrame, type Frame, type FrameOf, RelayFeature, type StoredEntry } from "./protocol.js";
import type { RelayClientEvent, RelayClientOptions } from "./client-options.js";
import type { EnvelopeHandler, FetchSinceOptions, PublishAck, ReceivedEnvelope, RelayTransport, SubscribeOptions, Subscription } from "./transport.js";

export type { RelayClientEvent, RelayClientOptions } from "./client-options.js";

interface TopicState {
  readonly handlers: Set<EnvelopeHandler>;
  /** Relay time from which the next catch-up starts (ns). */
  nextSinceNs: bigint | undefined;
}

const EMPTY = new Uint8Array(0);

/** A reconnecting relay client. Create with `RelayClient.connect(url)`. */
export class RelayClient implements RelayTransport {
  /** The relay's pubsub topic (from its WELCOME); message hashes are computed over it. */
  pubsubTopic = "";
  private ws: WebSocket | undefined;
  private welcome: FrameOf<"welcome"> | undefined;
  private readonly topics = new Map<string, TopicState>();
  private readonly pending = new PendingRequests((frame) => this.sendFrame(frame));
  private readonly seen: SeenHashes;
  private failure: SdsError | undefined;
  private publishesInFlight = 0;
  private readonly publishWaiters: Array<{ resolve: () => void; reject: (error: SdsError) => void }> = [];
  private nextRequestId = 1;
  private closed = false;
  private everConnected = false;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private awaitingPong = false;
  private firstConnect: { resolve: () => void; reject: (error: SdsError) => void } | undefined;

  private constructor(
    readonly url: string,
    private readonly options: RelayClientOptions,
  ) {
    this.seen = new SeenHashes(options.dedupEntriesMax ?? 10_000);
  }

  private get incomingFrameBytesMax(): number {
    return this.options.incomingFrameBytesMax ?? 64 * 1024 * 1024;
  }

  /**
   * Connects and waits for the relay's WELCOME.
   * @throws RelayError `E_RELAY_UNAVAILABLE` when no relay answers within `connectAttemptsMax`.
   */
  static async connect(url: string, options: RelayClientOptions = {}): Promise<RelayClient> {
    const client = new RelayClient(url, options);
    await new Promise<void>((resolve, reject) => {
      client.firstConnect = { resolve, reject };
      client.open();
    });
    return client;
  }

  /** True while a socket is open and welcomed. */
  get connected(): boolean {
    return this.welcome !== undefined && this.ws?.readyState === WebSocket.OPEN;
  }

  private emit(event: RelayClientEvent): void {
    this.options.onEvent?.(event);
  }

  private open(): void {
    const ws = new WebSocket(this.url, {
      maxPayload: this.incomingFrameBytesMax,
      perMessageDeflate: false,
      handshakeTimeout: this.options.requestTimeoutMs ?? 10_000,
      ...(isLoopbackUrl(this.url) ? { generateMask: zeroMask } : {}),
    });
    this.ws = ws;
    ws.binaryType = "nodebuffer";
    let lastError: Error | undefined;
    ws.on("error", (error) => (lastError = error));
    ws.on("message", (data, isBinary) => {
      if (ws !== this.ws || !isBinary || !(data instanceof Buffer)) return;
      this.onFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    });
    ws.on("close", (code, reason) => {
      if (ws !== this.ws) return;
      this.onClose(code, reason.toString(), lastError);
    });
  }

  private onClose(code: number, reason: string, error: Error | undefined): void {
    const wasWelcomed = this.welcome !== undefined;
    this.welcome = undefined;
    this.ws = undefined;
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pending.resetRetries();
    if (this.closed) return;
    if (wasWelcomed) this.emit({ type: "disconnected", code, reason });
    const limit = this.everConnected ? (this.options.reconnectAttemptsMax ?? Infinity) : (this.options.connectAttemptsMax ?? 1) - 1;
    if (this.attempt >= limit) {
      const failure = new RelayError("E_RELAY_UNAVAILABLE", `relay ${this.url} unavailable: ${error?.message ?? `closed ${code} ${reason}`}`, { url: this.url, closeCode: code, errno: (error as NodeJS.ErrnoException | undefined)?.code });
      this.emit({ type: "gaveUp", attempts: this.attempt + 1 });
      this.fail(failure);
      return;
    }
    const baseMs = Math.min(this.options.reconnectDelayMaxMs ?? 5000, (this.options.reconnectDelayMs ?? 100) * 2 ** this.attempt);
    const delayMs = Math.round(baseMs / 2 + ((this.options.random ?? Math.random)() * baseMs) / 2);
    this.attempt += 1;
    this.emit({ type: "reconnecting", attempt: this.attempt, delayMs });
    this.reconnectTimer = setTimeout(() => {
      const hook = this.options.beforeReconnect;
      if (hook === undefined) return this.open();
      void hook()
        .catch(() => undefined)
        .then(() => !this.closed && this.open());
    }, delayMs);
  }

  /** Fails everything pending and stops for good. */
  private fail(error: SdsError): void {
    this.closed = true;
    this.failure ??= error;
    this.firstConnect?.reject(error);
    this.firstConnect = undefined;
    this.pending.rejectAll(error);
    for (const waiter of this.publishWaiters.splice(0)) waiter.reject(error);
  }

  private sendFrame(frame: Frame): boolean {
    if (!this.connected) return false;
    (this.ws as WebSocket).send(encodeFrame(frame), { binary: true });
    return true;
  }

  private onFrame(bytes: Uint8Array): void {
    let frame: Frame;
    try {
      frame = decodeFrame(bytes, { frameBytesMax: this.incomingFrameBytesMax, entriesPerResponseMax: 100_000 });
    } catch (error) {
      if (!(error instanceof SdsError)) throw error;
      this.emit({ type: "relayError", code: error.code, reason: `undecodable frame from relay: ${error.message}`, topic: "" });
      return;
    }
    switch (frame.type) {
      case "welcome":
        return this.onWelcome(frame);
      case "message":
        return this.deliver(frame.topic, { hash: frame.hash, envelope: frame.envelope, storedAtNs: frame.storedAtNs }, "live");
      case "publishAcks":
        for (const ack of frame.acks) this.pending.settle({ type: "publishAck", ...ack });
        return;
      case "publishAck":
      case "publishReject":
      case "storeResponse":
        return this.pending.settle(frame);
      case "pong":
        this.awaitingPong = false;
        return;
      case "error":
        this.emit({ type: "relayError", code: frame.code, reason: frame.reason, topic: frame.topic });
        return;
      case "slowConsumer":
        this.emit({ type: "slowConsumer", bufferedBytes: frame.bufferedBytes });
        return;
      default:
        return;
    }
  }

  private onWelcome(frame: FrameOf<"welcome">): void {
    this.welcome = frame;
    this.pubsubTopic = frame.pubsubTopic;
    const reconnect = this.everConnected;
    this.everConnected = true;
    this.attempt = 0;
    this.emit({ type: "connected", url: this.url, pubsubTopic: frame.pubsubTopic, reconnect });
    this.firstConnect?.resolve();
    this.firstConnect = undefined;
    // Acks of many publishes in one frame when the relay offers it (older relays do not).
    if ((frame.features & RelayFeature.AckBatches) !== 0) this.sendFrame({ type: "hello", features: RelayFeature.AckBatches });
    const topics = [...this.topics.keys()];
    for (let start = 0; start < topics.length; start += 64) this.sendFrame({ type: "subscribe", topics: topics.slice(start, start + 64) });
    this.pending.resendAll();
    for (const [topic, state] of this.topics) {
      if (state.nextSinceNs === undefined) state.nextSinceNs = frame.relayTimeNs;
      else void this.catchUp(topic);
    }
    this.startPing();
  }

  private startPing(): void {
    const intervalMs = this.options.pingIntervalMs ?? 15_000;
    if (intervalMs <= 0) return;
    this.awaitingPong = false;
    this.pingTimer = setInterval(() => {
      if (this.awaitingPong) return void this.ws?.terminate();
      this.awaitingPong = true;
      this.sendFrame({ type: "ping", nonce: this.nextRequestId++ });
    }, intervalMs);
    this.pingTimer.unref();
  }

  /** Delivers one envelope to the topic's handlers unless its hash was seen already. */
  private deliver(topic: string, entry: StoredEntry, source: "live" | "store"): void {
    const state = this.topics.get(topic);
    if (state === undefined) return;
    if (entry.storedAtNs > 0n && (state.nextSinceNs === undefined || entry.storedAtNs + 1n > state.nextSinceNs)) state.nextSinceNs = entry.storedAtNs + 1n;
    const received = this.toReceived(topic, entry, source);
    if (received === undefined || !this.seen.add(topic, received.hashHex)) return;
    for (const handler of [...state.handlers]) {
      try {
        handler(received);
      } catch (error) {
        if (this.options.onEvent === undefined) throw error;
        this.emit({ type: "handlerError", error });
      }
    }
  }

  private toReceived(topic: string, entry: StoredEntry, source: "live" | "store"): ReceivedEnvelope | undefined {
    try {
      const envelope = decodeEnvelope(entry.envelope, { envelopeBytesMax: entry.envelope.length });
      return { topic, envelope, hash: entry.hash, hashHex: toHex(entry.hash), storedAtNs: entry.storedAtNs, source };
    } catch (error) {
      if (!(error instanceof SdsError)) throw error;
      this.emit({ type: "relayError", code: error.code, reason: `undecodable envelope from relay: ${error.message}`, topic });
      return undefined;
    }
  }

  private async catchUp(topic: string): Promise<void> {
    const state = this.topics.get(topic);
    if (state?.nextSinceNs === undefined) return;
    try {
      const entries = await this.entriesSince(topic, state.nextSinceNs, Infinity);
      for (const entry of entries) this.deliver(topic, entry, "store");
      this.emit({ type: "caughtUp", topic, messages: entries.length });
    } catch (error) {
      // A failed catch-up is retried by the next reconnect; report, never crash.
      if (!(error instanceof SdsError)) throw error;
      this.emit({ type: "relayError", code: error.code, reason: `catch-up failed: ${error.message}`, topic });
    }
  }

  private request(frame: Frame & { requestId: number }, timeoutMs: number): Promise<Frame> {
    if (this.closed) return Promise.reject(this.failure ?? new RelayError("E_RELAY_CLOSED", "relay client is closed"));
    return this.pending.add(frame, timeoutMs, () => {
      const code = this.connected ? (frame.type === "publish" ? "E_NOT_CONFIRMED" : "E_TIMEOUT") : "E_RELAY_UNAVAILABLE";
      return new RelayError(code, `no answer from relay ${this.url} within ${timeoutMs} ms`, { url: this.url, timeoutMs, requestId: frame.requestId });
    });
  }

  /** @inheritdoc */
  async publish(topic: string, envelope: WakuEnvelope): Promise<PublishAck> {
    if (envelope.contentTopic !== "" && envelope.contentTopic !== topic) {
      throw new SdsError("E_INPUT_INVALID", `envelope content topic ${envelope.contentTopic} differs from ${topic}`);
    }
    const bytes = encodeEnvelope({ ...envelope, contentTopic: topic });
    const frameBytesMax = this.welcome?.frameBytesMax || DEFAULT_FRAME_LIMITS.frameBytesMax;
    if (bytes.length + 24 > frameBytesMax) throw new SdsError("E_PAYLOAD_TOO_LARGE", `envelope of ${bytes.length} bytes exceeds the relay's ${frameBytesMax}-byte frames`, { frameBytesMax });
    // A finishing publish hands its slot straight to the oldest waiter (FIFO, never over the bound).
    if (this.publishesInFlight >= (this.options.publishInFlightMax ?? 1000)) {
      await new Promise<void>((resolve, reject) => this.publishWaiters.push({ resolve, reject }));
    } else this.publishesInFlight += 1;
    let ack: FrameOf<"publishAck">;
    try {
      ack = (await this.request({ type: "publish", requestId: this.nextRequestId++, envelope: bytes }, this.options.publishTimeoutMs ?? 10_000)) as FrameOf<"publishAck">;
    } finally {
      const next = this.publishWaiters.shift();
      if (next) next.resolve();
      else this.publishesInFlight -= 1;
    }
    const hashHex = toHex(ack.hash);
    this.seen.add(topic, hashHex);
    return { hash: ack.hash, hashHex, duplicate: ack.duplicate, storedAtNs: ack.storedAtNs };
  }

  /** @inheritdoc */
  subscribe(topic: string, handler: EnvelopeHandler, options: SubscribeOptions = {}): Subscription {
    let state = this.topics.get(topic);
    if (state === undefined) {
      state = { handlers: new Set(), nextSinceNs: options.sinceTimestampNs ?? this.welcome?.relayTimeNs };
      this.topics.set(topic, state);
      this.sendFrame({ type: "subscribe", topics: [topic] });
      if (options.sinceTimestampNs !== undefined && this.connected) void this.catchUp(topic);
    }
    state.handlers.add(handler);
    return {
      unsubscribe: () => {
        const current = this.topics.get(topic);
        if (current === undefined) return;
        current.handlers.delete(handler);
        if (current.handlers.size > 0) return;
        this.topics.delete(topic);
        this.sendFrame({ type: "unsubscribe", topics: [topic] });
      },
    };
  }

  /** @inheritdoc */
  async fetchByHashes(topic: string, hashes: readonly Uint8Array[]): Promise<ReceivedEnvelope[]> {
    const found: ReceivedEnvelope[] = [];
    for (let start = 0; start < hashes.length; start += DEFAULT_FRAME_LIMITS.hashesPerQueryMax) {
      const chunk = hashes.slice(start, start + DEFAULT_FRAME_LIMITS.hashesPerQueryMax);
      const response = await this.query(topic, { hashes: [...chunk], sinceTimestampNs: 0n, limit: chunk.length, cursor: EMPTY });
      for (const entry of response.entries) {
        const received = this.toReceived(topic, entry, "store");
        if (received) found.push(received);
      }
    }
    return found;
  }

  /** @inheritdoc */
  async fetchSince(topic: string, sinceTimestampNs: bigint, options: FetchSinceOptions = {}): Promise<ReceivedEnvelope[]> {
    const found: ReceivedEnvelope[] = [];
    for (const entry of await this.entriesSince(topic, sinceTimestampNs, options.limit ?? Infinity)) {
      const received = this.toReceived(topic, entry, "store");
      if (received) found.push(received);
    }
    return found;
  }

  /** Stored entries since a relay time, page by page, at most `total`. */
  private async entriesSince(topic: string, sinceTimestampNs: bigint, total: number): Promise<StoredEntry[]> {
    const entries: StoredEntry[] = [];
    let cursor: Uint8Array = EMPTY;
    do {
      const limit = Math.min(this.options.storePageLimit ?? 500, total - entries.length);
      const response = await this.query(topic, { hashes: [], sinceTimestampNs, limit, cursor });
      entries.push(...response.entries);
      cursor = response.nextCursor;
    } while (cursor.length > 0 && entries.length < total);
    return entries;
  }

  private async query(topic: string, body: Pick<FrameOf<"storeQuery">, "hashes" | "sinceTimestampNs" | "limit" | "cursor">): Promise<FrameOf<"storeResponse">> {
    const frame: FrameOf<"storeQuery"> = { type: "storeQuery", requestId: this.nextRequestId++, topic, ...body };
    return (await this.request(frame, this.options.requestTimeoutMs ?? 10_000)) as FrameOf<"storeResponse">;
  }

  /** @inheritdoc */
  async close(): Promise<void> {
    if (this.closed && this.ws === undefined) return;
    clearTimeout(this.reconnectTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.fail(new RelayError("E_RELAY_CLOSED", "relay client closed"));
    const ws = this.ws;
    if (ws === undefined || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 1000);
      ws.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000, "client exit");
    });
  }
}
