/**
 * The relay server (`sds relay`): a WebSocket pub/sub hub for content topics with publish
 * acknowledgements and a bounded store (see docs/relay-protocol.md). Every limit is enforced per
 * connection without stalling the others: frame size (ws `maxPayload`), send-queue bytes (a slow
 * consumer is told, then disconnected), a publish/query token bucket, and caps on connections,
 * topics and subscribers. A test-only fault mode drops/duplicates live deliveries with a seeded
 * PRNG. Shutdown closes every connection with 1001 and waits (bounded) for the close handshakes.
 * Sending and its bounds live in `outbound.ts`, store queries in `store-query.ts`, options and
 * counters in `server-options.ts`.
 */
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocket, WebSocketServer, type RawData } from "ws";
import { DecodeError, RelayError, SdsError } from "../errors.js";
import { DEFAULT_ENVELOPE_LIMITS, DEFAULT_PUBSUB_TOPIC, decodeEnvelope, type EnvelopeLimits, isContentTopic, messageHash } from "./envelope.js";
import { faultDecider, type FaultDecider, TokenBucket } from "./limits.js";
import { decodeFrame } from "./frame-decode.js";
import { type Connection, NO_BATCH, Outbound, wireMessage, wirePublishAck } from "./outbound.js";
import { DEFAULT_FRAME_LIMITS, type Frame, type FrameOf, isClientFrame, RELAY_PROTOCOL_VERSION, RelayFeature } from "./protocol.js";
import { readPublish } from "./publish-path.js";
import { RelayStore } from "./relay-store.js";
import { CloseCode, DEFAULT_RELAY_PORT, type RelayServerOptions, type RelayStats } from "./server-options.js";
import { answerStoreQuery } from "./store-query.js";
import { openSqliteRelayStore } from "./store-sqlite.js";

export { CloseCode, DEFAULT_RELAY_PORT, type RelayServerEvent, type RelayServerOptions, type RelayStats } from "./server-options.js";

/**
 * Subscribers of a topic above which a MESSAGE is written to each by reference instead of being
 * copied into each one's batch (see `Outbound.send`): side by side, copies were cheaper at 10
 * subscribers (1.6–1.8 against 2.0–2.7 µs of CPU per delivery) and dearer at 50 (2.4–3.6 against
 * 1.8–2.4).
 */
const SHARED_FANOUT_MIN = 16;

/**
 * The routing fields of a publish: its content topic, message hash and ephemeral flag. The hash
 * may be the fast path's scratch (valid until the next publish is read): everything that keeps
 * it (store, ack, MESSAGE frame) copies it.
 */
interface Routing {
  contentTopic: string;
  hash: Uint8Array;
  ephemeral: boolean;
}

/** A running relay. `start()` once, `close()` once (idempotent). */
export class RelayServer {
  readonly pubsubTopic: string;
  readonly frameBytesMax: number;
  readonly sendQueueBytesMax: number;
  private readonly options: RelayServerOptions;
  private readonly nowMs: () => number;
  private readonly store: RelayStore;
  private readonly faults: FaultDecider;
  private readonly envelopeLimits: EnvelopeLimits;
  private readonly outbound: Outbound;
  private readonly frameLimits: { frameBytesMax: number };
  private readonly pubsubTopicBytes: Uint8Array;
  private readonly subscribers = new Map<string, Set<Connection>>();
  private readonly connections = new Set<Connection>();
  private readonly counters: Omit<RelayStats, "connections" | "storedMessages" | "topics">;
  private http: HttpServer | undefined;
  private wss: WebSocketServer | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private nextConnectionId = 1;
  /** The last content topic that passed `isContentTopic` (publishes repeat topics). */
  private lastContentTopic = "";
  private closed: Promise<void> | undefined;

  constructor(options: RelayServerOptions = {}) {
    this.options = options;
    this.nowMs = options.nowMs ?? Date.now;
    this.pubsubTopic = options.pubsubTopic ?? DEFAULT_PUBSUB_TOPIC;
    this.frameBytesMax = options.frameBytesMax ?? DEFAULT_FRAME_LIMITS.frameBytesMax;
    this.sendQueueBytesMax = Math.max(options.sendQueueBytesMax ?? 8 * 1024 * 1024, this.frameBytesMax);
    this.faults = faultDecider(options.faults);
    this.outbound = new Outbound(this.sendQueueBytesMax, (connection) => this.slowConsumer(connection));
    this.envelopeLimits = { ...DEFAULT_ENVELOPE_LIMITS, envelopeBytesMax: this.frameBytesMax };
    this.frameLimits = { frameBytesMax: this.frameBytesMax };
    this.pubsubTopicBytes = Buffer.from(this.pubsubTopic, "utf8");
    // Many publishes fall in one millisecond: the BigInt of the last millisecond is reused.
    let lastMs = Number.NaN;
    let lastNs = 0n;
    const nowNs = () => {
      const ms = Math.floor(this.nowMs());
      if (ms !== lastMs) {
        lastMs = ms;
        lastNs = BigInt(ms) * 1_000_000n;
      }
      return lastNs;
    };
    const persistence = options.storeFile !== undefined ? openSqliteRelayStore(options.storeFile) : undefined;
    this.store = new RelayStore({ entriesPerTopicMax: options.storeEntriesPerTopic, bytesPerTopicMax: options.storeBytesPerTopic, topicsMax: options.topicsMax, nowNs, persistence });
    this.counters = { connectionsTotal: 0, published: 0, duplicates: 0, rejected: 0, rateLimited: 0, delivered: 0, droppedByFaults: 0, duplicatedByFaults: 0, slowConsumers: 0, storeQueries: 0, protocolErrors: 0 };
  }

  /**
   * Listens and resolves with the actual URL (`ws://host:port`).
   * @throws RelayError `E_RELAY_UNAVAILABLE` when the address is in use or not bindable.
   */
  async start(): Promise<{ url: string; host: string; port: number }> {
    const host = this.options.host ?? "127.0.0.1";
    const http = createServer((_request, response) => {
      response.writeHead(426, { "content-type": "text/plain" }).end("sds relay: connect with a WebSocket client\n");
    });
    this.http = http;
    this.wss = new WebSocketServer({ server: http, maxPayload: this.frameBytesMax, perMessageDeflate: false });
    // ws re-emits the HTTP server's errors; listen errors are reported by start() below.
    this.wss.on("error", () => undefined);
    this.wss.on("connection", (ws, request) => {
      if (this.options.unref) request.socket.unref();
      this.accept(ws, request.socket, `${request.socket.remoteAddress ?? "?"}:${request.socket.remotePort ?? "?"}`);
    });
    await new Promise<void>((resolve, reject) => {
      http.once("error", (error: NodeJS.ErrnoException) => {
        this.store.close();
        reject(new RelayError("E_RELAY_UNAVAILABLE", `cannot listen on ${host}:${this.options.port ?? DEFAULT_RELAY_PORT}: ${error.code ?? error.message}`, { host, errno: error.code }, { cause: error }));
      });
      http.listen(this.options.port ?? DEFAULT_RELAY_PORT, host, () => resolve());
    });
    if (this.options.unref) http.unref();
    const interval = this.options.heartbeatIntervalMs ?? 30_000;
    if (interval > 0) {
      this.heartbeat = setInterval(() => this.beat(), interval);
      this.heartbeat.unref();
    }
    const port = (http.address() as AddressInfo).port;
    const shown = host.includes(":") ? `[${host}]` : host;
    return { url: `ws://${shown}:${port}`, host, port };
  }

  /** Current counters. */
  stats(): RelayStats {
    return { ...this.counters, connections: this.connections.size, storedMessages: this.store.messageCount, topics: this.store.topicCount };
  }

  private beat(): void {
    for (const connection of this.connections) {
      if (!connection.alive) connection.ws.terminate();
      else {
        connection.alive = false;
        connection.ws.ping();
      }
    }
  }

  private accept(ws: WebSocket, socket: Duplex, remote: string): void {
    if (this.closed !== undefined || this.connections.size >= (this.options.connectionsMax ?? 1000)) {
      ws.close(CloseCode.tryAgainLater, this.closed ? "relay shutting down" : "connection cap reached");
      return;
    }
    const rate = this.options.ratePerSecond ?? 10_000;
    const connection: Connection = { id: this.nextConnectionId++, ws, socket, batch: NO_BATCH, batchBytes: 0, lastBatchBytes: 0, corked: false, corkedBytes: 0, topics: new Set(), bucket: new TokenBucket(rate, this.options.rateBurst ?? Math.max(1, rate * 2), this.nowMs), closing: false, alive: true, acksBatched: false };
    this.connections.add(connection);
    this.counters.connectionsTotal += 1;
    this.options.onEvent?.({ type: "open", connection: connection.id, remote });
    ws.on("pong", () => (connection.alive = true));
    ws.on("message", (data, isBinary) => this.onData(connection, data, isBinary));
    ws.on("error", () => (this.counters.protocolErrors += 1));
    ws.on("close", (code) => {
      this.drop(connection);
      this.options.onEvent?.({ type: "close", connection: connection.id, code });
    });
    this.outbound.send(connection, {
      type: "welcome",
      protocolVersion: RELAY_PROTOCOL_VERSION,
      pubsubTopic: this.pubsubTopic,
      relayTimeNs: this.store.relayTimeNs(),
      frameBytesMax: this.frameBytesMax,
      storeQueryLimitMax: this.options.storeQueryLimitMax ?? 1000,
      relayId: this.options.relayId ?? "",
      features: RelayFeature.AckBatches,
    });
  }

  private drop(connection: Connection): void {
    this.connections.delete(connection);
    for (const topic of connection.topics) this.removeSubscriber(topic, connection);
    connection.topics.clear();
  }

  private removeSubscriber(topic: string, connection: Connection): void {
    const set = this.subscribers.get(topic);
    set?.delete(connection);
    if (set?.size === 0) this.subscribers.delete(topic);
  }

  private slowConsumer(connection: Connection): void {
    this.counters.slowConsumers += 1;
    const buffered = connection.ws.bufferedAmount;
    this.options.onEvent?.({ type: "slowConsumer", connection: connection.id, bufferedBytes: buffered });
    this.outbound.sendUnbounded(connection, { type: "slowConsumer", bufferedBytes: buffered, limitBytes: this.sendQueueBytesMax });
    connection.closing = true;
    this.drop(connection);
    connection.ws.close(CloseCode.slowConsumer, "slow consumer");
    setTimeout(() => connection.ws.terminate(), this.options.drainTimeoutMs ?? 2000).unref();
  }

  private protocolError(connection: Connection, error: SdsError, closeCode: number): void {
    this.counters.protocolErrors += 1;
    this.options.onEvent?.({ type: "protocolError", connection: connection.id, code: error.code });
    this.outbound.send(connection, { type: "error", code: error.code, reason: error.message.slice(0, 512), requestId: 0, topic: "" });
    this.outbound.flush(connection);
    connection.closing = true;
    connection.ws.close(closeCode, error.code);
  }

  private onData(connection: Connection, data: RawData, isBinary: boolean): void {
    if (connection.closing) return;
    if (!isBinary || !(data instanceof Buffer)) {
      this.protocolError(connection, new SdsError("E_INPUT_FORMAT", "the relay accepts binary frames only"), CloseCode.unsupportedData);
      return;
    }
    if (data.length <= this.frameBytesMax) {
      const view = readPublish(data, this.pubsubTopicBytes, this.envelopeLimits);
      if (view !== undefined) return this.publish(connection, view.requestId, view.envelope, view);
    }
    let frame: Frame;
    try {
      // A plain Uint8Array view: the decoder's `.slice()` must copy (a Buffer's does not).
      frame = decodeFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), this.frameLimits);
      if (!isClientFrame(frame)) throw new DecodeError("E_DECODE_INVALID", `frame type ${frame.type} is relay-to-client only`, { field: "type", offset: 1 });
    } catch (error) {
      if (!(error instanceof SdsError)) throw error;
      this.protocolError(connection, error, CloseCode.protocolError);
      return;
    }
    this.handle(connection, frame);
  }

  private handle(connection: Connection, frame: Frame): void {
    switch (frame.type) {
      case "subscribe":
        for (const topic of frame.topics) this.subscribe(connection, topic);
        return;
      case "unsubscribe":
        for (const topic of frame.topics) {
          connection.topics.delete(topic);
          this.removeSubscriber(topic, connection);
        }
        return;
      case "ping":
        this.outbound.send(connection, { type: "pong", nonce: frame.nonce });
        return;
      case "publish":
        this.publish(connection, frame.requestId, frame.envelope, undefined);
        return;
      case "storeQuery":
        this.storeQuery(connection, frame);
        return;
      case "hello":
        this.outbound.flushAcksOf(connection);
        connection.acksBatched = (frame.features & RelayFeature.AckBatches) !== 0;
        return;
      default:
        return;
    }
  }

  /** Distinct topics stored or subscribed. */
  private topicsInUse(): number {
    let count = this.store.topicCount;
    for (const topic of this.subscribers.keys()) if (!this.store.hasTopic(topic)) count += 1;
    return count;
  }

  private subscribe(connection: Connection, topic: string): void {
    const reject = (reason: string) => this.outbound.send(connection, { type: "error", code: "E_RELAY_REJECTED", reason, requestId: 0, topic });
    if (connection.topics.has(topic)) return;
    if (!isContentTopic(topic)) return void reject(`not a content topic (/<app>/<version>/<name>/<encoding>): ${topic}`);
    if (connection.topics.size >= (this.options.subscriptionsPerConnectionMax ?? 256)) return void reject("subscriptions per connection cap reached");
    const set = this.subscribers.get(topic);
    if ((set?.size ?? 0) >= (this.options.subscribersPerTopicMax ?? 1000)) return void reject("subscribers per topic cap reached");
    if (set === undefined && !this.store.hasTopic(topic) && this.topicsInUse() >= (this.options.topicsMax ?? 1000)) return void reject("topic cap reached");
    connection.topics.add(topic);
    if (set === undefined) this.subscribers.set(topic, new Set([connection]));
    else set.add(connection);
  }

  /**
   * Handles one publish: rate limit, route, hash, store, ack, fan out. `view` is the fast path's
   * reading of the envelope (routing fields and hash); without it the envelope is fully decoded.
   * `envelope` may alias the received bytes (a Buffer view): the store keeps its own copy, the
   * MESSAGE frame copies it too.
   */
  private publish(connection: Connection, requestId: number, envelope: Uint8Array, view: Routing | undefined): void {
    if (!connection.bucket.take()) {
      this.counters.rateLimited += 1;
      return this.rejectPublish(connection, requestId, "E_RELAY_RATE_LIMITED", "publish rate limit exceeded");
    }
    let topic: string;
    let routing: Routing;
    let duplicate = false;
    let storedAtNs = 0n;
    try {
      routing = view ?? this.decodeRouting(envelope);
      topic = routing.contentTopic;
      // One topic is usually published over and over: its check is remembered.
      if (topic !== this.lastContentTopic) {
        if (!isContentTopic(topic)) throw new RelayError("E_RELAY_REJECTED", `not a content topic: ${JSON.stringify(topic)}`);
        this.lastContentTopic = topic;
      }
      if (!routing.ephemeral) ({ duplicate, storedAtNs } = this.store.add(topic, routing.hash, envelope));
    } catch (error) {
      if (!(error instanceof SdsError)) throw error;
      return this.rejectPublish(connection, requestId, error.code, error.message);
    }
    const hash = routing.hash;
    this.counters.published += 1;
    if (duplicate) this.counters.duplicates += 1;
    if (connection.acksBatched) this.outbound.queueAck(connection, requestId, hash, duplicate, storedAtNs);
    else this.outbound.send(connection, wirePublishAck(requestId, hash, duplicate, storedAtNs));
    this.fanOut(connection, topic, envelope, hash, storedAtNs);
  }

  /** The slow path: the full envelope decode (precise errors) and the hash. */
  private decodeRouting(envelope: Uint8Array): Routing {
    const decoded = decodeEnvelope(envelope, this.envelopeLimits);
    return { contentTopic: decoded.contentTopic, hash: messageHash(this.pubsubTopic, decoded), ephemeral: decoded.ephemeral === true };
  }

  private rejectPublish(connection: Connection, requestId: number, code: string, reason: string): void {
    this.counters.rejected += 1;
    this.outbound.send(connection, { type: "publishReject", requestId, code, reason: reason.slice(0, 512) });
  }

  private fanOut(publisher: Connection, topic: string, envelope: Uint8Array, hash: Uint8Array, storedAtNs: bigint): void {
    const set = this.subscribers.get(topic);
    if (set === undefined || (set.size === 1 && set.has(publisher))) return;
    // Encoded once; the same Buffer goes to every subscriber. Iterating the live Set is safe:
    // a slow consumer removed during the loop is simply not visited again.
    const bytes = wireMessage(topic, envelope, hash, storedAtNs);
    const shared = set.size > SHARED_FANOUT_MIN;
    for (const connection of set) {
      if (connection === publisher) continue;
      const copies = this.faults();
      if (copies === 0) this.counters.droppedByFaults += 1;
      if (copies === 2) this.counters.duplicatedByFaults += 1;
      for (let copy = 0; copy < copies; copy++) if (this.outbound.send(connection, bytes, shared)) this.counters.delivered += 1;
    }
  }

  private storeQuery(connection: Connection, frame: FrameOf<"storeQuery">): void {
    this.counters.storeQueries += 1;
    if (!connection.bucket.take()) {
      this.counters.rateLimited += 1;
      this.outbound.send(connection, { type: "storeResponse", requestId: frame.requestId, entries: [], nextCursor: new Uint8Array(0), code: "E_RELAY_RATE_LIMITED", reason: "store query rate limit exceeded" });
      return;
    }
    this.outbound.send(connection, answerStoreQuery(this.store, frame, { frameBytesMax: this.frameBytesMax, storeQueryLimitMax: this.options.storeQueryLimitMax ?? 1000 }));
  }

  /**
   * Stops accepting, closes every connection with 1001 "relay shutting down", waits up to
   * `drainTimeoutMs` for the handshakes, terminates the rest, closes the store. Idempotent.
   */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    const pending = [...this.connections].map(
      (connection) =>
        new Promise<void>((resolve) => {
          if (connection.ws.readyState === WebSocket.CLOSED) return resolve();
          connection.ws.once("close", () => resolve());
          this.outbound.flush(connection);
          connection.closing = true;
          connection.ws.close(CloseCode.goingAway, "relay shutting down");
        }),
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.options.drainTimeoutMs ?? 2000);
      timer.unref();
    });
    await Promise.race([Promise.all(pending), timeout]);
    clearTimeout(timer);
    for (const connection of this.connections) connection.ws.terminate();
    await new Promise<void>((resolve) => (this.wss ? this.wss.close(() => resolve()) : resolve()));
    await new Promise<void>((resolve) => (this.http?.listening ? this.http.close(() => resolve()) : resolve()));
    this.store.close();
  }
}
