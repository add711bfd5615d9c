/**
 * The Reliable Channel: one SDS channel over a relay. Outgoing: segment → SDS wrap → (rate
 * limit) → (encrypt) → envelope with meta `RELIABLE-CHANNEL-API/1` → publish. Incoming: meta and
 * topic check → (decrypt) → SDS unwrap (retrieval hint = envelope hash) → reassemble → deliver
 * whole payloads in causal order; missing dependencies are fetched from the relay store by hint.
 * Each `send` is a request tracked to `sent` / `delivered` / `undelivered`; every drop and loss
 * is an event and a counter. Periodic work (`tick`) runs on an injected scheduler. The channel
 * owns its engine: every wire the engine's `tick` returns is published on this channel's topic.
 */
import { createHash, randomUUID } from "node:crypto";
import { SdsError, isSdsError } from "../errors.js";
import type { HistoryEntry } from "../protocol/types.js";
import { decodeMessage } from "../protocol/wire/index.js";
import type { Delivered } from "../protocol/engine/events.js";
import { RELIABLE_CHANNEL_META_BYTES, contentTopicFor, hasAcceptableMeta, toHex, type WakuEnvelope } from "../relay/envelope.js";
import type { ReceivedEnvelope, RelayTransport, Subscription } from "../relay/transport.js";
import { ChannelCipher } from "./encryption.js";
import { ChannelEvents, emptyCounters, type ChannelCounters, type ChannelEventMap, type ChannelEventName, type ChannelListener, type DropReason } from "./events.js";
import { StoreCatchUp } from "./catch-up.js";
import type { ReliabilityEngine, ReliableChannelOptions, RequestOutcome, SendReceipt } from "./options.js";
import { EpochRateLimiter, RateLimitedQueue } from "./rate-limit.js";
import { Reassembler, type ReassemblyOutcome } from "./reassembly.js";
import { SEGMENT_BYTES_MAX_DEFAULT, SEGMENT_TOTAL_COUNT_MAX_DEFAULT, chunkBytesFor, segmentPayload } from "./segmentation.js";
import { SendTracker, type SendEvent } from "./send-state.js";

export type { ReliabilityEngine, ReliableChannelOptions, RequestOutcome, SendReceipt } from "./options.js";

interface Outgoing {
  messageId: string | undefined;
  wire: Uint8Array;
  ephemeral: boolean;
}

interface SegmentTag {
  messageId: string;
  senderId: string;
  lamportTimestamp: bigint | undefined;
}

const RECENT_OUTCOMES_MAX = 10_000;

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
  private readonly reassembler: Reassembler<SegmentTag>;
  private readonly tracker: SendTracker;
  private readonly wireToMessage = new Map<string, string>();
  private readonly messageToWire = new Map<string, string>();
  private readonly outcomes = new Map<string, RequestOutcome>();
  private readonly catchUp: StoreCatchUp;
  private readonly queuedMessageIds = new Set<string>();
  private readonly hinted = new Set<string>();
  private readonly publishing = new Set<string>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private lane: Promise<unknown> = Promise.resolve();
  private ingressWaiting = 0;
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
    this.reassembler = new Reassembler<SegmentTag>({ ...options.reassembly, now: this.now, segmentBytesMax: this.segmentBytesMax, totalSegmentCountMax: this.totalSegmentCountMax });
    this.tracker = new SendTracker({ requestsMax: options.requestsMax });
    this.catchUp = new StoreCatchUp(
      {
        transport: this.transport,
        contentTopic: this.contentTopic,
        now: this.now,
        counters: this.counters,
        ingest: (message) => this.ingest(message),
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
    for (;;) {
      const pending = [this.lane, ...this.inFlight];
      await Promise.allSettled(pending);
      if (this.inFlight.size === 0 && pending[0] === this.lane) return;
    }
  }

  /** Where `requestId` stands (final outcomes of the last 10 000 requests are remembered). */
  outcome(requestId: string): RequestOutcome {
    const status = this.tracker.status(requestId);
    if (status) return status.sent ? "sent" : "pending";
    return this.outcomes.get(requestId) ?? "unknown";
  }

  /**
   * Resolves with `requestId`'s outcome once it is `sent` or final (`until: "sent"`), or final
   * (`until: "final"`, default; an ephemeral request is final at `sent`). Safe to call after the events fired (they can fire before
   * `send` resolves). Rejects with `signal.reason` when `signal` aborts first.
   */
  waitFor(requestId: string, until: "sent" | "final" = "final", signal?: AbortSignal): Promise<RequestOutcome> {
    const final = (outcome: RequestOutcome): boolean => outcome === "delivered" || outcome === "undelivered" || outcome === "unknown" || (outcome === "sent" && this.tracker.status(requestId) === undefined); // an ephemeral request ends at sent
    const reached = (outcome: RequestOutcome): boolean => final(outcome) || (until === "sent" && outcome === "sent");
    const current = this.outcome(requestId);
    if (reached(current)) return Promise.resolve(current);
    return new Promise<RequestOutcome>((resolve, reject) => {
      const stops: Array<() => void> = [];
      const finish = (settle: () => void): void => {
        for (const stop of stops) stop();
        signal?.removeEventListener("abort", onAbort);
        settle();
      };
      const check = (event: { requestId: string }): void => {
        const outcome = this.outcome(requestId);
        if (event.requestId === requestId && reached(outcome)) finish(() => resolve(outcome));
      };
      const onAbort = (): void => finish(() => reject(signal?.reason));
      stops.push(this.on("sent", check), this.on("delivered", check), this.on("undelivered", check));
      if (signal?.aborted) onAbort();
      else signal?.addEventListener("abort", onAbort, { once: true });
    });
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
    const segmented = this.options.segmentation ?? true;
    if (!segmented && payload.length === 0) throw new SdsError("E_PAYLOAD_EMPTY", "an empty payload needs segmentation (SDS treats empty content as sync)");
    if (payload.length > this.payloadBytesMax) {
      throw new SdsError("E_PAYLOAD_TOO_LARGE", `payload of ${payload.length} bytes exceeds ${this.payloadBytesMax}`, { payloadBytes: payload.length, payloadBytesMax: this.payloadBytesMax });
    }
    const segments = segmented ? segmentPayload(payload, { segmentBytesMax: this.segmentBytesMax, totalSegmentCountMax: this.totalSegmentCountMax }) : [payload];
    if (this.queue && this.queue.free < segments.length) throw new SdsError("E_BUFFER_FULL", `rate-limit queue has room for ${this.queue.free} segments, needs ${segments.length}`);
    if (this.tracker.pendingCount >= this.tracker.requestsMax) throw new SdsError("E_BUFFER_FULL", `${this.tracker.requestsMax} send requests are already pending`);
    const ephemeral = options.ephemeral ?? false;
    const requestId = (this.options.newRequestId ?? randomUUID)();
    const wrapped = await this.inLane(async () => {
      const out: Array<{ messageId: string; wire: Uint8Array }> = [];
      for (const segment of segments) out.push(await this.engine.send(this.channelId, segment, { ephemeral }));
      return out;
    });
    const messageIds = wrapped.map((item) => item.messageId);
    this.tracker.register(requestId, messageIds, { awaitAcknowledgement: !ephemeral });
    this.counters.requestsSent += 1;
    this.counters.segmentsSent += wrapped.length;
    for (const item of wrapped) {
      const key = wireKey(item.wire);
      this.wireToMessage.set(key, item.messageId);
      this.messageToWire.set(item.messageId, key);
      const outgoing: Outgoing = { messageId: item.messageId, wire: item.wire, ephemeral };
      if (this.queue) {
        this.queue.push(outgoing);
        this.queuedMessageIds.add(item.messageId);
      } else {
        this.dispatch(outgoing);
      }
    }
    if (this.queue) this.drainQueue();
    return { requestId, messageIds };
  }

  /** One round of periodic work: engine tick (resends, sync, repairs, lost), reassembly sweep, rate-limit drain. */
  async tick(): Promise<void> {
    try {
      const result = await this.inLane(() => this.engine.tick());
      for (const wire of result.wire) {
        if (!this.ownsWire(wire)) continue;
        const messageId = this.wireToMessage.get(wireKey(wire));
        // a first transmission still waiting for budget, or a publish not yet confirmed, is not stacked up again
        if (messageId !== undefined && (this.queuedMessageIds.has(messageId) || this.publishing.has(messageId))) continue;
        if (messageId !== undefined) this.counters.resent += 1;
        this.dispatch({ messageId, wire, ephemeral: false });
      }
      this.handleDelivered(result.delivered);
      if (result.lost.length > 0) this.reportLost(result.lost);
      this.applySendEvents(result.acknowledged.flatMap((id) => this.tracker.acknowledged(id)));
      this.applySendEvents(result.undelivered.flatMap((id) => this.tracker.undelivered(id)));
    } catch (error) {
      this.reportError(error, "tick");
    }
    this.handleReassembly(this.reassembler.sweep());
    if (this.queue) this.drainQueue();
    this.catchUp.tick();
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
      result = await this.inLane(() => this.engine.receive(wire, { retrievalHint: message.hash, channelId: this.channelId }));
    } catch (error) {
      if (isSdsError(error) && (error.errorClass === "input" || error.name === "DecodeError")) {
        return this.drop(error.code === "E_CHANNEL_UNKNOWN" ? "foreign-channel" : "decode", `envelope ${message.hashHex}: ${error.message}`);
      }
      return this.reportError(error, "receive");
    } finally {
      this.ingressWaiting -= 1;
    }
    if (result.ignored === true || result.channelId !== this.channelId) return this.drop("foreign-channel", `SDS channel ${result.channelId}`);
    this.applySendEvents(result.acknowledged.flatMap((id) => this.tracker.acknowledged(id)));
    this.handleDelivered(result.delivered);
    if (result.missing.length > 0) this.catchUp.reportMissing(result.missing, message);
  }

  /** True unless `wire` decodes as another channel's message (an engine ticks all its channels). */
  private ownsWire(wire: Uint8Array): boolean {
    try {
      return decodeMessage(wire, { dialect: this.engine.dialect?.name ?? "auto", limits: { wireBytesMax: Math.max(wire.length, 1) } }).channelId === this.channelId;
    } catch {
      return true;
    }
  }

  private handleDelivered(delivered: readonly Delivered[]): void {
    if (delivered.length > 0) this.catchUp.resolve(delivered.map((item) => item.messageId));
    for (const item of delivered) {
      if (item.channelId !== this.channelId || item.content.length === 0) continue;
      const tag: SegmentTag = { messageId: item.messageId, senderId: item.senderId, lamportTimestamp: item.lamportTimestamp };
      this.handleReassembly(this.reassembler.accept(item.content, tag, item.senderId), item);
    }
  }

  private handleReassembly(outcomes: ReassemblyOutcome<SegmentTag>[], source?: Delivered): void {
    for (const outcome of outcomes) {
      switch (outcome.kind) {
        case "complete":
          this.deliver(outcome.payload, outcome.tags, outcome.payloadHash, true);
          break;
        case "lost":
          this.counters.lost += 1;
          this.events.emit("lost", { source: "reassembly", reason: outcome.reason, payloadHash: outcome.payloadHash, messageIds: outcome.tags.map((tag) => tag.messageId), held: outcome.held, expected: outcome.expected });
          break;
        case "discarded": {
          const raw = (outcome.reason === "undecodable" || outcome.reason === "invalid") && (this.options.acceptUnsegmented ?? true);
          if (raw && source) this.deliver(source.content, [outcome.tag], undefined, false);
          else this.drop("segment", `${outcome.reason} segment in message ${outcome.tag.messageId}`);
          break;
        }
        case "progress":
          break;
      }
    }
  }

  private deliver(payload: Uint8Array, tags: SegmentTag[], payloadHash: string | undefined, segmented: boolean): void {
    const last = tags[tags.length - 1] as SegmentTag;
    this.counters.payloadsReceived += 1;
    this.events.emit("received", { payload, meta: { senderId: last.senderId, messageIds: tags.map((tag) => tag.messageId), lamportTimestamp: last.lamportTimestamp, payloadHash, segmented } });
  }

  private reportLost(entries: readonly HistoryEntry[]): void {
    this.catchUp.resolve(entries.map((entry) => entry.messageId));
    this.counters.lost += entries.length;
    this.events.emit("lost", { source: "sds", messageIds: entries.map((entry) => entry.messageId) });
  }

  private dispatch(outgoing: Outgoing): void {
    const payload = this.cipher ? this.cipher.encrypt(outgoing.wire) : outgoing.wire;
    const envelope: WakuEnvelope = { payload, contentTopic: this.contentTopic, timestampNs: BigInt(Math.floor(this.now())) * 1_000_000n, meta: RELIABLE_CHANNEL_META_BYTES };
    if (outgoing.ephemeral) envelope.ephemeral = true;
    const messageId = outgoing.messageId;
    if (messageId !== undefined) this.publishing.add(messageId);
    this.track(
      this.transport.publish(this.contentTopic, envelope).finally(() => {
        if (messageId !== undefined) this.publishing.delete(messageId);
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
    if (setHint === undefined || this.hinted.has(messageId) || !this.tracker.requestOf(messageId)) return;
    this.hinted.add(messageId);
    this.track(this.inLane(() => setHint.call(this.engine, this.channelId, messageId, hint)).catch((error: unknown) => this.reportError(error, "tick")));
  }

  private drainQueue(): void {
    if (!this.queue) return;
    const { released, nextAtMs } = this.queue.drain();
    for (const outgoing of released) {
      if (outgoing.messageId !== undefined) this.queuedMessageIds.delete(outgoing.messageId);
      this.dispatch(outgoing);
    }
    this.cancelDrain?.();
    this.cancelDrain = undefined;
    if (nextAtMs !== undefined && this.running && this.options.scheduler) {
      this.cancelDrain = this.options.scheduler.schedule(nextAtMs - this.now(), () => this.drainQueue());
    }
  }

  private applySendEvents(events: SendEvent[]): void {
    for (const event of events) {
      switch (event.kind) {
        case "sent":
          if (event.final) this.finish(event.requestId, event.messageIds, "sent");
          else this.outcomes.set(event.requestId, "sent");
          this.events.emit("sent", { requestId: event.requestId, messageIds: event.messageIds });
          break;
        case "delivered":
          this.finish(event.requestId, event.messageIds, "delivered");
          this.counters.requestsDelivered += 1;
          this.events.emit("delivered", { requestId: event.requestId, messageIds: event.messageIds });
          break;
        case "undelivered":
          this.finish(event.requestId, event.messageIds, "undelivered");
          this.counters.requestsUndelivered += 1;
          this.events.emit("undelivered", { requestId: event.requestId, messageIds: event.messageIds, undeliveredMessageIds: event.undeliveredMessageIds });
          break;
        case "send-error":
          this.events.emit("send-error", { requestId: event.requestId, messageId: event.messageId, error: event.error });
          break;
      }
    }
  }

  private finish(requestId: string, messageIds: string[], outcome: RequestOutcome): void {
    for (const messageId of messageIds) {
      const key = this.messageToWire.get(messageId);
      this.messageToWire.delete(messageId);
      this.hinted.delete(messageId);
      if (key !== undefined) this.wireToMessage.delete(key);
    }
    this.outcomes.delete(requestId);
    this.outcomes.set(requestId, outcome);
    while (this.outcomes.size > RECENT_OUTCOMES_MAX) this.outcomes.delete(this.outcomes.keys().next().value as string);
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
  private inLane<T>(run: () => Promise<T>): Promise<T> {
    const next = this.lane.then(run);
    this.lane = next.catch(() => undefined);
    return next;
  }

  private track(promise: Promise<unknown>): void {
    const settled = promise.catch(() => undefined).finally(() => this.inFlight.delete(settled));
    this.inFlight.add(settled);
  }
}

/** Identity of a wire blob for matching engine resends to their message (same bytes, same id). */
function wireKey(wire: Uint8Array): string {
  return createHash("sha256").update(wire).digest("base64");
}
