/**
 * The ReliabilityManager: the library's SDS API over the pure engine. It owns the channels of
 * one participant (loaded lazily from persistence), serializes operations, commits each
 * operation's delta under the chosen policy BEFORE releasing its wire bytes and deliveries,
 * and mirrors every outcome as an event. Under `write-before-release` a failed commit throws
 * the store's typed error and the touched channels are discarded, so the next operation
 * reloads them exactly as committed: memory never runs ahead of disk.
 */
import { EventEmitter } from "node:events";
import { SdsError, StoreError } from "./errors.js";
import { Committer, type PersistencePolicy } from "./manager/committer.js";
import { emptyTickResult, toReceiveResult, type ReceiveResult, type SendResult, type TickResult } from "./manager/results.js";
import { resolveConfig, type SdsConfig } from "./protocol/config.js";
import { getDialect, type Dialect } from "./protocol/dialect.js";
import * as engine from "./protocol/engine/index.js";
import type { ChannelState, EngineContext, Operation, OperationResult } from "./protocol/engine/index.js";
import { contentMessageId, uniqueMessageId } from "./protocol/message-id.js";
import type { DialectName, SdsMessage } from "./protocol/types.js";
import type { ChannelData, Persistence } from "./store/contract.js";

export type { PersistencePolicy } from "./manager/committer.js";
export type { ReceiveResult, SendResult, TickPublish, TickResult } from "./manager/results.js";

/** One operation of {@link ReliabilityManager.batch}. */
export type BatchOperation =
  | { op: "send"; channelId: string; payload: Uint8Array; ephemeral?: boolean }
  // `message`: `wire` already decoded by the caller with the engine's `decodeWire(wire, dialect, config)` (not decoded again).
  | { op: "receive"; wire: Uint8Array; retrievalHint?: Uint8Array; message?: SdsMessage }
  | { op: "markDependenciesMet"; channelId: string; messageIds: readonly string[] };

/** The result of one batch operation, in the operation's slot. */
export type BatchResult = SendResult | ReceiveResult | { channelId: string; delivered: engine.Delivered[] } | { error: SdsError };

/** Options of {@link ReliabilityManager}. */
export interface ReliabilityManagerOptions {
  /** Our participant (sender) id; must be non-empty and unique in the channel. */
  participantId: string;
  /** Wire dialect of every channel of this manager (default `spec`). */
  dialect?: DialectName;
  /** Clock, Unix ms (default `Date.now`). */
  now?: () => number;
  /** Uniform random in [0, 1) (default `Math.random`); used for sync message ids. */
  random?: () => number;
  /** Overrides of the dialect's defaults. */
  config?: Partial<SdsConfig>;
  /** Channel store; without one, state lives in memory only. */
  persistence?: Persistence;
  /** What a failed commit does (default `write-before-release`). */
  policy?: PersistencePolicy;
  /** Custom message-id generation (default from `config.messageIdMode`). */
  messageId?: (payload: Uint8Array, nowMs: number) => string;
  /**
   * Per channel, bytes of original wire messages kept so SDS-R answers re-publish them exactly
   * (default 8 MiB ≈ the last 440 spec-dialect messages; 0 = off: answers are re-encoded without
   * the sender's bloom filter). Memory only; not persisted.
   */
  wireCacheBytesMax?: number;
}

/** The SDS engine for one participant and all its channels. */
export class ReliabilityManager extends EventEmitter {
  readonly participantId: string;
  readonly dialect: Dialect;
  readonly config: SdsConfig;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly persistence: Persistence | undefined;
  private readonly committer: Committer;
  private readonly makeId: (payload: Uint8Array, nowMs: number) => string;
  private readonly wireCacheBytesMax: number | undefined;
  private readonly channels = new Map<string, ChannelState>();
  private queue: Promise<unknown> = Promise.resolve();
  private hydrated = false;
  private idSequence = 0;

  /** @throws SdsError `E_CONFIG_INVALID` for bad options. */
  constructor(options: ReliabilityManagerOptions) {
    super();
    if (typeof options.participantId !== "string" || options.participantId === "") {
      throw new SdsError("E_CONFIG_INVALID", "participantId must be a non-empty string", { field: "participantId" });
    }
    this.participantId = options.participantId;
    this.dialect = getDialect(options.dialect ?? "spec");
    this.config = resolveConfig(this.dialect.name, options.config);
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.persistence = options.persistence;
    this.committer = new Committer(options.persistence, options.policy ?? "write-before-release");
    this.makeId = options.messageId ?? this.defaultMessageId();
    if (options.wireCacheBytesMax !== undefined && !(Number.isSafeInteger(options.wireCacheBytesMax) && options.wireCacheBytesMax >= 0)) {
      throw new SdsError("E_CONFIG_INVALID", "wireCacheBytesMax must be a non-negative integer (bytes)", { field: "wireCacheBytesMax" });
    }
    this.wireCacheBytesMax = options.wireCacheBytesMax;
  }

  private defaultMessageId(): (payload: Uint8Array, nowMs: number) => string {
    if (this.config.messageIdMode === "content") return (payload) => contentMessageId(payload);
    return (payload, nowMs) => {
      this.idSequence = (this.idSequence + 1) % 1_000_000;
      const timestampNs = BigInt(Math.floor(nowMs)) * 1_000_000n + BigInt(this.idSequence);
      return uniqueMessageId(this.participantId, timestampNs, payload);
    };
  }

  /** Runs `body` after every earlier operation finished (operations never interleave). */
  private exclusive<T>(body: () => Promise<T>): Promise<T> {
    const result = this.queue.then(body, body);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private context(nowMs: number): EngineContext {
    return {
      participantId: this.participantId,
      dialect: this.dialect,
      config: this.config,
      nowMs,
      random: this.random,
      makeMessageId: (payload) => this.makeId(payload, nowMs),
      ...(this.wireCacheBytesMax === undefined ? {} : { wireCacheBytesMax: this.wireCacheBytesMax }),
    };
  }

  private async channel(channelId: string, context: EngineContext): Promise<ChannelState> {
    const cached = this.channels.get(channelId);
    if (cached !== undefined) return cached;
    let state: ChannelState;
    if (this.persistence === undefined) {
      state = engine.createChannel(channelId, context);
    } else {
      const loaded = await this.persistence.loadChannel(channelId);
      if (!loaded.ok) throw loaded.error;
      state = loaded.value === undefined ? engine.createChannel(channelId, context) : engine.restoreChannel(channelId, loaded.value, context);
    }
    this.channels.set(channelId, state);
    return state;
  }

  /**
   * Restores `channelId` from data its caller already read from this manager's persistence
   * (`listen` reads the history once for its printed marks), so the channel is not loaded a
   * second time on its first operation. Does nothing when the channel is already loaded.
   */
  adopt(channelId: string, data: ChannelData | undefined): Promise<void> {
    return this.exclusive(async () => {
      if (this.channels.has(channelId)) return;
      const context = this.context(this.now());
      this.channels.set(channelId, data === undefined ? engine.createChannel(channelId, context) : engine.restoreChannel(channelId, data, context));
    });
  }

  /** Commits, then (only then) reports; on a write-before-release failure discards the channels. */
  private async settle(operations: readonly Operation[]): Promise<void> {
    try {
      const outcome = await this.committer.commit(operations.map((operation) => operation.delta));
      if (!outcome.committed) this.emit("storeError", outcome.error);
    } catch (error) {
      for (const operation of operations) this.channels.delete(operation.state.channelId);
      // The next tick must reload the dropped channels, or their timers (resends, repairs) stall.
      this.hydrated = false;
      throw error instanceof SdsError ? error : new StoreError("E_STORE_IO", String(error), {}, { cause: error });
    }
    for (const operation of operations) for (const event of operation.effects.events) this.emit(event.type, event);
  }

  private async runOne<T>(channelId: string, body: (state: ChannelState, context: EngineContext) => OperationResult<T>): Promise<OperationResult<T>> {
    const context = this.context(this.now());
    const state = await this.channel(channelId, context);
    let result: OperationResult<T>;
    try {
      result = body(state, context);
    } catch (error) {
      // A refused operation changes nothing durable; drop any partial in-memory change if we can reload.
      if (this.persistence !== undefined && !(error instanceof SdsError)) this.channels.delete(channelId);
      throw error;
    }
    await this.settle([result.operation]);
    return result;
  }

  /** Sends `payload` on `channelId`. The returned `wire` is safe to publish (already committed). */
  send(channelId: string, payload: Uint8Array, options: { ephemeral?: boolean } = {}): Promise<SendResult> {
    return this.exclusive(async () => {
      const result = await this.runOne(channelId, (state, context) => engine.send(state, context, payload, options));
      return { channelId, messageId: result.value.messageId, wire: result.value.wire };
    });
  }

  /** Sends many payloads on one channel with ONE commit; nothing is returned before it. */
  sendMany(channelId: string, payloads: readonly Uint8Array[]): Promise<SendResult[]> {
    return this.exclusive(async () => {
      const context = this.context(this.now());
      const state = await this.channel(channelId, context);
      const operations: Operation[] = [];
      const results: SendResult[] = [];
      try {
        for (const payload of payloads) {
          const result = engine.send(state, context, payload);
          operations.push(result.operation);
          results.push({ channelId, messageId: result.value.messageId, wire: result.value.wire });
        }
      } catch (error) {
        if (this.persistence !== undefined) this.channels.delete(channelId);
        throw error;
      }
      await this.settle(operations);
      return results;
    });
  }

  /**
   * Decodes and receives one wire message. The bytes may be kept (bounded, see
   * `wireCacheBytesMax`) to answer repair requests with them: a view into a larger buffer is
   * copied, a `wire` spanning its whole ArrayBuffer is kept as it is, so do not modify it afterwards.
   */
  receive(wire: Uint8Array, options: { retrievalHint?: Uint8Array; channelId?: string } = {}): Promise<ReceiveResult> {
    return this.exclusive(async () => {
      const message = engine.decodeWire(wire, this.dialect.name, this.config);
      if (options.channelId !== undefined && message.channelId !== options.channelId) {
        return { channelId: message.channelId, messageId: message.messageId, kind: "content", duplicate: false, ignored: true, delivered: [], missing: [], acknowledged: [] };
      }
      const result = await this.runOne(message.channelId, (state, context) => engine.receive(state, context, message, options.retrievalHint, wire));
      return toReceiveResult(message.channelId, result);
    });
  }

  /** Receives many wire messages with ONE commit; undecodable ones are reported, not thrown. */
  receiveMany(wires: readonly Uint8Array[]): Promise<Array<ReceiveResult | { error: SdsError }>> {
    return this.exclusive(async () => {
      const operations: Operation[] = [];
      const pending: Array<{ channelId: string; result: OperationResult<engine.ReceiveOutcome> } | { error: SdsError }> = [];
      const nowMs = this.now();
      const context = this.context(nowMs);
      try {
        for (const wire of wires) {
          let message;
          try {
            message = engine.decodeWire(wire, this.dialect.name, this.config);
          } catch (error) {
            if (error instanceof SdsError) {
              pending.push({ error });
              continue;
            }
            throw error;
          }
          const state = await this.channel(message.channelId, context);
          const result = engine.receive(state, context, message, undefined, wire);
          operations.push(result.operation);
          pending.push({ channelId: message.channelId, result });
        }
      } catch (error) {
        if (this.persistence !== undefined) for (const operation of operations) this.channels.delete(operation.state.channelId);
        throw error;
      }
      await this.settle(operations);
      return pending.map((entry) => ("error" in entry ? entry : toReceiveResult(entry.channelId, entry.result)));
    });
  }

  /**
   * Runs many operations of any kind, in order, with ONE commit: nothing is returned (so
   * nothing can be published or shown) before it. A refused operation (typed error, no state
   * change) yields `{ error }` in its slot; the others proceed. A failed commit throws and
   * leaves every touched channel as committed.
   */
  batch(operations: readonly BatchOperation[]): Promise<BatchResult[]> {
    return this.exclusive(async () => {
      const context = this.context(this.now());
      const done: Operation[] = [];
      const results: Array<BatchResult | (() => BatchResult)> = [];
      try {
        for (const item of operations) {
          try {
            if (item.op === "send") {
              const state = await this.channel(item.channelId, context);
              const result = engine.send(state, context, item.payload, { ephemeral: item.ephemeral === true });
              done.push(result.operation);
              results.push({ channelId: item.channelId, messageId: result.value.messageId, wire: result.value.wire });
            } else if (item.op === "receive") {
              const message = item.message ?? engine.decodeWire(item.wire, this.dialect.name, this.config);
              const state = await this.channel(message.channelId, context);
              const result = engine.receive(state, context, message, item.retrievalHint, item.wire);
              done.push(result.operation);
              results.push(() => toReceiveResult(message.channelId, result));
            } else {
              const state = await this.channel(item.channelId, context);
              const result = engine.markDependenciesMet(state, context, item.messageIds);
              done.push(result.operation);
              results.push({ channelId: item.channelId, delivered: result.effects.delivered });
            }
          } catch (error) {
            if (!(error instanceof SdsError) || error instanceof StoreError) throw error;
            results.push({ error });
          }
        }
      } catch (error) {
        if (this.persistence !== undefined) for (const operation of done) this.channels.delete(operation.state.channelId);
        throw error;
      }
      await this.settle(done);
      return results.map((result) => (typeof result === "function" ? result() : result));
    });
  }

  /** Runs periodic duties on every channel (loading persisted ones first): resends, sync, lost, repair. */
  tick(): Promise<TickResult> {
    return this.exclusive(async () => {
      const context = this.context(this.now());
      if (!this.hydrated && this.persistence !== undefined) {
        const listed = await this.persistence.listChannels();
        if (!listed.ok) throw listed.error;
        for (const channelId of listed.value) await this.channel(channelId, context);
        this.hydrated = true;
      }
      const budget = { remaining: this.config.repairResponsesPerTickMax };
      const operations: Operation[] = [];
      for (const state of this.channels.values()) operations.push(engine.tick(state, context, budget).operation);
      await this.settle(operations);
      const result = emptyTickResult();
      for (const operation of operations) {
        const effects = operation.effects;
        const channelId = operation.state.channelId;
        for (const wire of effects.publish) {
          result.wire.push(wire);
          result.publish.push({ channelId, wire });
        }
        result.delivered.push(...effects.delivered);
        result.lost.push(...effects.lost);
        result.acknowledged.push(...effects.acknowledged);
        result.undelivered.push(...effects.undelivered);
        result.events.push(...effects.events);
      }
      return result;
    });
  }

  /** The application retrieved these messages itself: deliver what waited on them. */
  markDependenciesMet(channelId: string, messageIds: readonly string[]): Promise<engine.Delivered[]> {
    return this.exclusive(async () => {
      const result = await this.runOne(channelId, (state, context) => engine.markDependenciesMet(state, context, messageIds));
      return result.effects.delivered;
    });
  }

  /**
   * Records the retrieval hint (the relay's envelope hash, say) of a message in `channelId`'s
   * history, typically one of our own once the relay confirmed storing it: causal histories
   * sent afterwards carry it, so peers that missed the message can fetch it by hash. Committed
   * under the manager's policy before it resolves, and restored after a restart. An unknown id
   * changes nothing.
   * @throws SdsError `E_INPUT_INVALID` for an empty hint or one above 1024 bytes.
   */
  setRetrievalHint(channelId: string, messageId: string, hint: Uint8Array): Promise<void> {
    return this.exclusive(async () => {
      await this.runOne(channelId, (state, context) => engine.setRetrievalHint(state, context, messageId, hint));
    });
  }

  /** Forgets a channel here and in the store (a store failure throws; memory is then kept). */
  removeChannel(channelId: string): Promise<void> {
    return this.exclusive(async () => {
      if (this.persistence !== undefined) {
        const dropped = await this.persistence.dropChannel(channelId);
        if (!dropped.ok) throw dropped.error;
      }
      this.channels.delete(channelId);
      this.committer.forget(channelId);
    });
  }

  /** Forgets every channel here and in the store. */
  reset(): Promise<void> {
    return this.exclusive(async () => {
      const ids = new Set(this.channels.keys());
      if (this.persistence !== undefined) {
        const listed = await this.persistence.listChannels();
        if (!listed.ok) throw listed.error;
        for (const id of listed.value) ids.add(id);
        for (const id of ids) {
          const dropped = await this.persistence.dropChannel(id);
          if (!dropped.ok) throw dropped.error;
        }
      }
      this.channels.clear();
      this.committer.clear();
      this.hydrated = false;
    });
  }

  /** Channel ids currently loaded. */
  loadedChannels(): string[] {
    return [...this.channels.keys()];
  }

  /** Read-only view of a loaded channel's state (for inspection and tests); `undefined` if not loaded. */
  inspect(channelId: string): Readonly<ChannelState> | undefined {
    return this.channels.get(channelId);
  }
}
