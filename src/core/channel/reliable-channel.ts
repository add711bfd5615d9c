/**
 * The Reliable Channel: one SDS channel over a relay. Outgoing: segment → SDS wrap → (rate
 * limit) → (encrypt) → envelope with meta `RELIABLE-CHANNEL-API/1` → publish. Incoming: meta and
 * topic check → (decrypt) → SDS unwrap (retrieval hint = envelope hash) → reassemble → deliver
 * whole payloads in causal order; missing dependencies are fetched from the relay store by hint.
 * Each `send` is a request tracked to `sent` / `delivered` / `undelivered`; every drop and loss
 * is an event and a counter. Periodic work (`tick`) runs on an injected scheduler. The channel
 * owns its engine: every wire the engine's `tick` returns is published on this channel's topic.
 */
import { randomUUID } from "node:crypto";
import { SdsError, isSdsError } from "../errors.js";
import { decodeMessage } from "../protocol/wire/index.js";
import { RELIABLE_CHANNEL_META_BYTES, contentTopicFor, hasAcceptableMeta, type WakuEnvelope } from "../relay/envelope.js";
import type { ReceivedEnvelope, RelayTransport, Subscription } from "../relay/transport.js";
import { ChannelCipher } from "./encryption.js";
import { ChannelEvents, emptyCounters, type ChannelCounters, type ChannelEventMap, type ChannelEventName, type ChannelListener, type DropReason } from "./events.js";
import { StoreCatchUp } from "./catch-up.js";
import { PayloadDelivery } from "./delivery.js";
import type { Delivered } from "../protocol/engine/events.js";
import { IngressBatcher } from "./ingress-batch.js";
import { OutgoingIndex, waitForOutcome } from "./outgoing-index.js";
import { ReceivedHashes } from "./received-hashes.js";
import type { ReliabilityEngine, ReliableChannelOptions, RequestOutcome, SendReceipt } from "./options.js";
import { EpochRateLimiter, RateLimitedQueue } from "./rate-limit.js";
import { SEGMENT_BYTES_MAX_DEFAULT, SEGMENT_TOTAL_COUNT_MAX_DEFAULT, chunkBytesFor, segmentPayload } from "./segmentation.js";
import { applySendEvents } from "./request-events.js";
import { SendTracker, type SendEvent } from "./send-state.js";
import { WorkLane } from "./work-lane.js";

export type { ReliabilityEngine, ReliableChannelOptions, RequestOutcome, SendReceipt } from "./options.js";

interface Outgoing {
  messageId: string | undefined;
  wire: Uint8Array;
  ephemeral: boolean;
}

/** One Reliable Channel on one relay transport. */
export class ReliableChannel {
  readonly channelId: string;
  readonly contentTopic: string;
  readonly counters: ChannelCounters = emptyCounters();
  private readonly events = new ChannelEvents();
  private readonly engine: ReliabilityEngine;
  private readonly transport: RelayTransport;
  private readonly now: () => number;
  private readonly cipher: ChannelCipher | undefined;
  private readonly queue: RateLimitedQueue<Outgoing> | undefined;
  private readonly delivery: PayloadDelivery;
  private readonly tracker: SendTracker;
  private readonly outgoing = new OutgoingIndex();
  private readonly receivedHashes = new ReceivedHashes();
  /** Where the tracker's request events land (see request-events.ts). */
  private readonly requestSinks = { outgoing: this.outgoing, counters: this.counters, events: this.events };
  private readonly catchUp: StoreCatchUp;
  private readonly work = new WorkLane();
  private readonly ingress: IngressBatcher;
  private ingressWaiting = 0;
  private reservedSegments = 0;
  private reservedRequests = 0;
  private subscription: Subscription | undefined;
  private cancelTick: (() => void) | undefined;
  private cancelDrain: (() => void) | undefined;
  private running = false;

  constructor(private readonly options: ReliableChannelOptions) {
    this.channelId = options.channelId;
    this.contentTopic = options.contentTopic ?? contentTopicFor(options.channelId);
    this.engine = options.engine;
    this.transport = options.transport;
    this.now = options.now ?? Date.now;
    this.cipher = options.key ? new ChannelCipher(options.key, options.cipher) : undefined;
    if (options.rateLimit) this.queue = new RateLimitedQueue(new EpochRateLimiter(options.rateLimit, this.now), options.rateLimitQueueMax ?? 10_000);
    chunkBytesFor(this.segmentBytesMax); // validates early
    this.delivery = new PayloadDelivery(
      { channelId: this.channelId, counters: this.counters, events: this.events, drop: (reason, detail) => this.drop(reason, detail), resolved: (ids) => this.catchUp.resolve(ids) },
      { ...options.reassembly, now: this.now, segmentBytesMax: this.segmentBytesMax, totalSegmentCountMax: this.totalSegmentCountMax },
      options.acceptUnsegmented ?? true,
    );
    this.tracker = new SendTracker({ requestsMax: options.requestsMax });
    this.ingress = new IngressBatcher(this.engine, this.channelId, this.work);
    this.catchUp = new StoreCatchUp(
      {
        transport: this.transport,
        contentTopic: this.contentTopic,
        now: this.now,
        counters: this.counters,
        ingest: (message) => this.ingest(message),
        received: (hashHex) => this.receivedHashes.has(hashHex),
        track: (promise) => this.track(promise),
        onError: (error) => this.reportError(error, "fetch"),
      },
      options,
    );
  }

  private get segmentBytesMax(): number {
    return this.options.segmentBytesMax ?? SEGMENT_BYTES_MAX_DEFAULT;
  }

  private get totalSegmentCountMax(): number {
    return this.options.totalSegmentCountMax ?? SEGMENT_TOTAL_COUNT_MAX_DEFAULT;
  }

  /** Largest payload one `send` accepts, bytes. */
  get payloadBytesMax(): number {
    return chunkBytesFor(this.segmentBytesMax) * this.totalSegmentCountMax;
  }

  /** Listens to `name`; returns the function that stops listening. */
  on<K extends ChannelEventName>(name: K, listener: ChannelListener<K>): () => void {
    return this.events.on(name, listener);
  }

  /** Subscribes to the topic (with store catch-up when `sinceTimestampNs` is set) and starts ticking. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.subscription = this.transport.subscribe(this.contentTopic, (message) => void this.ingest(message), this.options.sinceTimestampNs === undefined ? {} : { sinceTimestampNs: this.options.sinceTimestampNs });
    this.scheduleTick();
  }

  /** Stops ticking and receiving, then waits for work in progress. Persisted SDS state survives. */
  async stop(): Promise<void> {
    this.running = false;
    this.cancelTick?.();
    this.cancelDrain?.();
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    await this.idle();
  }

  /** Resolves once queued engine operations and publishes have settled. */
  async idle(): Promise<void> {
    await this.work.idle();
  }

  /** Where `requestId` stands (final outcomes of the last 10 000 requests are remembered). */
  outcome(requestId: string): RequestOutcome {
    const status = this.tracker.status(requestId);
    if (status) return status.sent ? "sent" : "pending";
    return this.outgoing.outcomeOf(requestId) ?? "unknown";
  }

  /**
   * Resolves with `requestId`'s outcome once it is `sent` or final (`until: "sent"`), or final
   * (`until: "final"`, default; an ephemeral request is final at `sent`). Safe to call after the events fired (they can fire before
   * `send` resolves). Rejects with `signal.reason` when `signal` aborts first.
   */
  waitFor(requestId: string, until: "sent" | "final" = "final", signal?: AbortSignal): Promise<RequestOutcome> {
    const isTracked = (): boolean => this.tracker.status(requestId) !== undefined;
    return waitForOutcome({ outcome: () => this.outcome(requestId), isTracked, on: (name, listener) => this.on(name, listener) }, requestId, until, signal);
  }

  /** Requests not yet delivered or undelivered. */
  get pendingRequests(): number {
    return this.tracker.pendingCount;
  }

  /**
   * Segments, SDS-wraps and queues `payload` for publishing. Resolves once wrapped (the SDS
   * state is committed); `sent` / `delivered` / `undelivered` events follow for the request id.
   * @throws SdsError `E_PAYLOAD_TOO_LARGE`, `E_PAYLOAD_EMPTY` (segmentation off), `E_BUFFER_FULL`.
   */
  async send(payload: Uint8Array, options: { ephemeral?: boolean } = {}): Promise<SendReceipt> {
    const [receipt] = await this.submit([payload], options.ephemeral ?? false);
    return receipt as SendReceipt;
  }

  /**
   * Sends many payloads as many requests with ONE engine commit when the engine offers `sendMany`
   * (group commit for piped input), else one by one. The checks fail before anything is wrapped.
   */
  async sendMany(payloads: readonly Uint8Array[]): Promise<SendReceipt[]> {
    return this.submit(payloads, false);
  }

  private async submit(payloads: readonly Uint8Array[], ephemeral: boolean): Promise<SendReceipt[]> {
    const batches = payloads.map((payload) => this.segmentsOf(payload));
    const segmentCount = batches.reduce((sum, batch) => sum + batch.length, 0);
    if (this.queue && this.queue.free - this.reservedSegments < segmentCount) {
      throw new SdsError("E_BUFFER_FULL", `rate-limit queue has room for ${this.queue.free - this.reservedSegments} segments, needs ${segmentCount}`);
    }
    if (this.tracker.pendingCount + this.reservedRequests + payloads.length > this.tracker.requestsMax) {
      throw new SdsError("E_BUFFER_FULL", `${this.tracker.requestsMax} send requests would be pending`, { requestsMax: this.tracker.requestsMax });
    }
    this.reservedSegments += this.queue ? segmentCount : 0;
    this.reservedRequests += payloads.length;
    let wrapped: Array<{ messageId: string; wire: Uint8Array }>;
    try {
      wrapped = await this.inLane(() => this.wrap(batches.flat(), ephemeral));
    } finally {
      this.reservedSegments -= this.queue ? segmentCount : 0;
      this.reservedRequests -= payloads.length;
    }
    const receipts: SendReceipt[] = [];
    let next = 0;
    for (const batch of batches) {
      const items = wrapped.slice(next, next + batch.length);
      next += batch.length;
      receipts.push(this.release(items, ephemeral));
    }
    if (this.queue) this.drainQueue();
    return receipts;
  }

  private segmentsOf(payload: Uint8Array): Uint8Array[] {
    if (!(this.options.segmentation ?? true)) {
      if (payload.length === 0) throw new SdsError("E_PAYLOAD_EMPTY", "an empty payload needs segmentation (SDS treats empty content as sync)");
      return [payload];
    }
    if (payload.length > this.payloadBytesMax) {
      throw new SdsError("E_PAYLOAD_TOO_LARGE", `payload of ${payload.length} bytes exceeds ${this.payloadBytesMax}`, { payloadBytes: payload.length, payloadBytesMax: this.payloadBytesMax });
    }
    return segmentPayload(payload, { segmentBytesMax: this.segmentBytesMax, totalSegmentCountMax: this.totalSegmentCountMax });
  }

  private async wrap(segments: Uint8Array[], ephemeral: boolean): Promise<Array<{ messageId: string; wire: Uint8Array }>> {
    if (!ephemeral && segments.length > 1 && this.engine.sendMany) return this.engine.sendMany(this.channelId, segments);
    const out: Array<{ messageId: string; wire: Uint8Array }> = [];
    for (const segment of segments) out.push(await this.engine.send(this.channelId, segment, { ephemeral }));
    return out;
  }

  /** Registers one request made of `items` and publishes (or queues) its segments. */
  private release(items: Array<{ messageId: string; wire: Uint8Array }>, ephemeral: boolean): SendReceipt {
    const requestId = (this.options.newRequestId ?? randomUUID)();
    const messageIds = items.map((item) => item.messageId);
    this.tracker.register(requestId, messageIds, { awaitAcknowledgement: !ephemeral });
    this.counters.requestsSent += 1;
    this.counters.segmentsSent += items.length;
    for (const item of items) {
      this.outgoing.add(item.messageId, item.wire);
      const outgoing: Outgoing = { messageId: item.messageId, wire: item.wire, ephemeral };
      if (this.queue) {
        this.queue.push(outgoing);
        this.outgoing.queued.add(item.messageId);
      } else {
        this.dispatch(outgoing);
      }
    }
    return { requestId, messageIds };
  }

  /** One round of periodic work: engine tick (resends, sync, repairs, lost), reassembly sweep, rate-limit drain. */
  async tick(): Promise<void> {
    try {
      const result = await this.inLane(() => this.engine.tick());
      const ours = result.publish !== undefined ? result.publish.filter((item) => item.channelId === this.channelId).map((item) => item.wire) : result.wire.filter((wire) => this.ownsWire(wire));
      for (const wire of ours) {
        const messageId = this.outgoing.messageOf(wire);
        // a first transmission still waiting for budget, or a publish not yet confirmed, is not stacked up again
        if (messageId !== undefined && this.outgoing.busy(messageId)) continue;
        if (messageId !== undefined) this.counters.resent += 1;
        this.dispatch({ messageId, wire, ephemeral: false });
      }
      this.delivery.accept(result.delivered);
      if (result.lost.length > 0) this.delivery.lost(result.lost);
      this.applySendEvents(result.acknowledged.flatMap((id) => this.tracker.acknowledged(id)));
      this.applySendEvents(result.undelivered.flatMap((id) => this.tracker.undelivered(id)));
    } catch (error) {
      this.reportError(error, "tick");
    }
    this.delivery.sweep();
    if (this.queue) this.drainQueue();
    this.catchUp.tick();
  }

  /**
   * Passes SDS messages the engine delivered in an earlier run (and the application never
   * saw) through reassembly again, in the given order: `received` events follow, and partial
   * segment sets come back as they were. Call before `start`, with the persisted history's
   * unprinted messages (the CLI's printed marks).
   */
  redeliver(delivered: readonly Delivered[]): void {
    this.delivery.accept(delivered);
  }

  /** Feeds one received envelope through the incoming pipeline (used by the subscription, store fetches and replays). */
  async ingest(message: ReceivedEnvelope): Promise<void> {
    this.counters.envelopesReceived += 1;
    this.catchUp.observe(message);
    const envelope = message.envelope;
    if (envelope.contentTopic !== this.contentTopic) return this.drop("bad-topic", envelope.contentTopic);
    if (!hasAcceptableMeta(envelope)) return this.drop("bad-meta", Buffer.from(envelope.meta ?? []).toString("latin1"));
    let wire = envelope.payload;
    if (this.cipher) {
      try {
        wire = this.cipher.decrypt(envelope.payload);
      } catch (error) {
        return this.drop("wrong-key", `envelope ${message.hashHex}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    const incomingQueueMax = this.options.incomingQueueMax ?? 10_000;
    if (this.ingressWaiting >= incomingQueueMax) return this.drop("overload", `${incomingQueueMax} envelopes already wait`);
    this.ingressWaiting += 1;
    let result;
    try {
      result = await this.ingress.receive(wire, message.hash);
    } catch (error) {
      if (isSdsError(error) && (error.errorClass === "input" || error.name === "DecodeError")) {
        return this.drop(error.code === "E_CHANNEL_UNKNOWN" ? "foreign-channel" : "decode", `envelope ${message.hashHex}: ${error.message}`);
      }
      return this.reportError(error, "receive");
    } finally {
      this.ingressWaiting -= 1;
    }
    if (result.ignored === true || result.channelId !== this.channelId) return this.drop("foreign-channel", `SDS channel ${result.channelId}`);
    this.receivedHashes.add(message.hashHex);
    this.applySendEvents(result.acknowledged.flatMap((id) => this.tracker.acknowledged(id)));
    this.delivery.accept(result.delivered);
    if (result.missing.length > 0) this.catchUp.reportMissing(result.missing, message);
  }

  /** For engines whose tick does not name channels: true unless `wire` decodes as another channel's message. */
  private ownsWire(wire: Uint8Array): boolean {
    try {
      return decodeMessage(wire, { dialect: this.engine.dialect?.name ?? "auto", limits: { wireBytesMax: Math.max(wire.length, 1) } }).channelId === this.channelId;
    } catch {
      return true;
    }
  }

  private dispatch(outgoing: Outgoing): void {
    const payload = this.cipher ? this.cipher.encrypt(outgoing.wire) : outgoing.wire;
    const envelope: WakuEnvelope = { payload, contentTopic: this.contentTopic, timestampNs: BigInt(Math.floor(this.now())) * 1_000_000n, meta: RELIABLE_CHANNEL_META_BYTES };
    if (outgoing.ephemeral) envelope.ephemeral = true;
    const messageId = outgoing.messageId;
    if (messageId !== undefined) this.outgoing.publishing.add(messageId);
    this.track(
      this.transport.publish(this.contentTopic, envelope).finally(() => {
        if (messageId !== undefined) this.outgoing.publishing.delete(messageId);
      }).then(
        (ack) => {
          this.counters.published += 1;
          if (outgoing.messageId === undefined) return;
          this.recordOwnHint(outgoing.messageId, ack.hash);
          this.applySendEvents(this.tracker.published(outgoing.messageId));
        },
        (error: unknown) => {
          this.counters.publishFailed += 1;
          const typed = isSdsError(error) ? error : new SdsError("E_INTERNAL", String(error), {}, { cause: error });
          if (outgoing.messageId !== undefined) this.applySendEvents(this.tracker.publishFailed(outgoing.messageId, typed));
        },
      ),
    );
  }

  /** Gives the engine the envelope hash of our message's first confirmed publish, once. */
  private recordOwnHint(messageId: string, hint: Uint8Array): void {
    const setHint = this.engine.setRetrievalHint;
    if (setHint === undefined || this.outgoing.hinted.has(messageId) || !this.tracker.requestOf(messageId)) return;
    this.outgoing.hinted.add(messageId);
    this.track(this.inLane(() => setHint.call(this.engine, this.channelId, messageId, hint)).catch((error: unknown) => this.reportError(error, "tick")));
  }

  private drainQueue(): void {
    if (!this.queue) return;
    const { released, nextAtMs } = this.queue.drain();
    for (const outgoing of released) {
      if (outgoing.messageId !== undefined) this.outgoing.queued.delete(outgoing.messageId);
      this.dispatch(outgoing);
    }
    this.cancelDrain?.();
    this.cancelDrain = undefined;
    if (nextAtMs !== undefined && this.running && this.options.scheduler) {
      this.cancelDrain = this.options.scheduler.schedule(nextAtMs - this.now(), () => this.drainQueue());
    }
  }

  private applySendEvents(events: SendEvent[]): void {
    applySendEvents(this.requestSinks, events);
  }

  private drop(reason: DropReason, detail: string): void {
    this.counters.dropped[reason] += 1;
    this.events.emit("dropped", { reason, detail });
  }

  private reportError(error: unknown, during: ChannelEventMap["error"]["during"]): void {
    this.counters.errors += 1;
    const typed = isSdsError(error) ? error : new SdsError("E_INTERNAL", error instanceof Error ? error.message : String(error), {}, { cause: error });
    this.events.emit("error", { error: typed, during });
  }

  private scheduleTick(): void {
    const scheduler = this.options.scheduler;
    if (!scheduler || !this.running) return;
    this.cancelTick = scheduler.schedule(this.options.tickIntervalMs ?? 1000, () => {
      this.track(this.tick().finally(() => this.scheduleTick()));
    });
  }

  /** Runs engine operations one at a time, in call order, so segments and deliveries keep their order. */
  private readonly inLane = <T>(run: () => Promise<T>): Promise<T> => this.work.run(run);
  private readonly track = (promise: Promise<unknown>): void => this.work.track(promise);
}
