/**
 * A simulated peer: the real ReliabilityManager (through `engine-adapter.ts`) over a `SimStore`,
 * with its own skewed clock, and the crash/restart life cycle. It publishes what the engine
 * releases, records every outcome in the history, and checks the per-peer safety invariants
 * that need the restored store (S4 lamport across restarts, S10 sender amnesia) at restart.
 *
 * A crash discards the manager object and whatever the running operation returned (wire bytes
 * not yet published, further deliveries); a restart builds a new manager from the store.
 */
import { isSdsError } from "../../src/core/errors.js";
import type { Delivered, EngineEvent } from "../../src/core/protocol/engine/events.js";
import type { SdsMessage } from "../../src/core/protocol/types.js";
import { decodeMessage } from "../../src/core/protocol/wire/index.js";
import type { Counters } from "./counters.js";
import { type EngineHandle, type Holdings, type OperationOutcome, type SendOutcome, openEngine } from "./engine-adapter.js";
import { type History, type WireKind, shortHash } from "./history.js";
import type { SimRelay } from "./network.js";
import type { SimRandom } from "./prng.js";
import type { CrashPoint, WorldParams } from "./scenarios.js";
import type { SimStore } from "./sim-store.js";
import type { Violations } from "./violations.js";
import { compareWithStore } from "./store-checks.js";
import { openWakuEngine } from "./waku-adapter.js";

/** What a peer needs from its world. */
export interface PeerContext {
  params: WorldParams;
  history: History;
  counters: Counters;
  relay: SimRelay;
  violations: Violations;
  /** Virtual time of the world (the peer adds its own skew). */
  worldNow: () => number;
  /** Opens the peer's store for an incarnation (a fresh connection for SQLite). */
  openStore: (peerId: string) => Promise<SimStore>;
  random: SimRandom;
  /** Called after every crash, so the world can schedule the restart. */
  onCrash: (peer: SimPeer) => void;
}

/** A peer of the simulated channel. */
export class SimPeer {
  private engine: EngineHandle | undefined;
  store: SimStore | undefined;
  /** Offset of this peer's clock from world time (skew and backward jumps), ms. */
  clockOffsetMs: number;
  /** Crash on the next receive that delivers something / the next tick that releases bytes. */
  armedDeliveryCrash = false;
  armedTickCrash = false;
  /** Last lamport this peer sent per channel (S4). */
  private readonly lastSentLamport = new Map<string, bigint>();
  /** Ids of own content messages that reached the relay (S10). */
  private readonly ownOnWire = new Map<string, Set<string>>();
  /** Ids of messages published by anyone, so a rebroadcast by a non-sender is told from a resend. */
  private readonly publishedByMe = new Set<string>();
  incarnation = 0;
  private readonly roundTripSampler: SimRandom;

  constructor(readonly id: string, private readonly context: PeerContext, skewMs: number) {
    this.clockOffsetMs = skewMs;
    this.roundTripSampler = context.random.split(`s8-${id}`);
  }

  /** This peer's wall clock. */
  readonly now = (): number => this.context.worldNow() + this.clockOffsetMs;

  /** True when this peer runs an engine without a store (the @waku/sds peer of F14). */
  get volatile(): boolean {
    return this.context.params.wakuPeers.includes(this.id);
  }

  /** What the running engine holds for `channel` (undefined when down or not loaded). */
  holdings(channel: string): Holdings | undefined {
    return this.engine?.holdings(channel);
  }

  /** Whether the peer is running. */
  get up(): boolean {
    return this.engine !== undefined;
  }

  /** Starts (or restarts) the peer from its store. Returns false when the store refused to load. */
  async start(): Promise<boolean> {
    const { params, counters } = this.context;
    const store = await this.context.openStore(this.id);
    const engineOptions = {
      participantId: this.id, params, now: this.now, random: this.context.random.split(`engine-${this.id}-${this.incarnation}`),
      persistence: store,
    };
    const engine = params.wakuPeers.includes(this.id) ? await openWakuEngine(engineOptions, counters) : await openEngine(engineOptions);
    if (!engine.ok) {
      counters.add("restart.load-failed");
      await store.close();
      return false;
    }
    this.engine = engine.value;
    this.store = store;
    this.context.relay.up.add(this.id);
    if (this.incarnation > 0) await this.checkRestored();
    this.incarnation += 1;
    return true;
  }

  /** The process dies at `point`: memory, timers and unreleased outputs are gone. */
  async crash(point: CrashPoint): Promise<void> {
    if (this.engine === undefined) return;
    this.context.history.record({ k: "crash", peer: this.id, point });
    this.context.counters.add(`crash.${point}`);
    this.engine = undefined;
    this.armedDeliveryCrash = false;
    this.armedTickCrash = false;
    this.context.relay.up.delete(this.id);
    const store = this.store;
    this.store = undefined;
    if (store !== undefined) await store.close();
    this.context.onCrash(this);
  }

  /** Liveness phase: no more crashes or storage faults for this peer. */
  disarm(): void {
    this.armedDeliveryCrash = false;
    this.armedTickCrash = false;
    if (this.store !== undefined) {
      this.store.armedCrash = undefined;
      this.store.episode = undefined;
      this.store.faultsEnabled = false;
    }
  }

  /** S4 and S10 against what the restarted peer's store holds. */
  private async checkRestored(): Promise<void> {
    const { params, history, violations, counters } = this.context;
    for (const channel of params.channels) {
      const loaded = await this.store?.inner.loadChannel(channel);
      if (loaded === undefined || !loaded.ok) continue;
      const data = loaded.value;
      const lamport = data?.meta.lamportTimestamp ?? 0n;
      history.record({ k: "restart", peer: this.id, lamport: lamport.toString() });
      const lastSent = this.lastSentLamport.get(channel);
      if (lastSent !== undefined && lamport < lastSent) {
        violations.report("S4", `${this.id} restarted on ${channel} with lamport ${lamport} < last sent ${lastSent}`, params.policy === "best-effort");
      }
      const held = new Set<string>();
      for (const message of data?.history ?? []) held.add(message.messageId);
      for (const entry of data?.meta.outgoingBuffer ?? []) held.add(entry.message.messageId);
      const historyFull = (data?.history.length ?? 0) >= (params.config.historyEntriesMax ?? Number.MAX_SAFE_INTEGER);
      for (const id of this.ownOnWire.get(channel) ?? []) {
        if (held.has(id) || historyFull) continue;
        counters.add(`amnesia.${params.policy}`);
        violations.report("S10", `${this.id} forgot ${id} on ${channel} after restart (its bytes were on the wire)`, params.policy === "best-effort");
      }
    }
  }

  private decode(bytes: Uint8Array): SdsMessage | undefined {
    try {
      return decodeMessage(bytes, { dialect: this.context.params.dialect });
    } catch {
      return undefined;
    }
  }

  /** Records a typed failure, or reports S12 for an untyped throw. */
  private failed(operation: string, error: unknown, channel = "", contentHash = ""): void {
    const code = isSdsError(error) ? error.code : "UNTYPED";
    this.context.history.record({ k: "error", peer: this.id, op: operation, code });
    if (this.store?.ambiguous === true) {
      this.store.ambiguous = false;
      this.context.history.record({ k: "ambiguous", peer: this.id, op: operation, channel, contentHash });
    }
    this.context.counters.add(`error.${operation}.${code}`);
    if (!isSdsError(error)) {
      this.context.violations.report("S12", `${this.id} ${operation} threw an untyped ${String(error instanceof Error ? error.stack : error)}`);
    }
  }

  /** Sends one application message; returns whether the engine accepted it. */
  async send(channel: string, payload: Uint8Array, ephemeral: boolean): Promise<boolean> {
    const engine = this.engine;
    if (engine === undefined) return false;
    let outcome: SendOutcome;
    try {
      outcome = await engine.send(channel, payload, ephemeral);
    } catch (error) {
      this.failed("send", error, channel, shortHash(payload));
      if (this.store?.crashed !== undefined) await this.crash(this.store.crashed);
      return false;
    }
    const message = this.decode(outcome.bytes);
    const lamport = message?.lamportTimestamp;
    this.context.history.record({
      k: "send", peer: this.id, channel, id: outcome.messageId, lamport: String(lamport ?? ""),
      deps: (message?.causalHistory ?? []).map((entry) => entry.messageId), contentHash: shortHash(payload), ephemeral,
    });
    this.checkSendLamport(channel, lamport, ephemeral);
    this.absorb(outcome);
    if (this.store?.crashed !== undefined) {
      await this.crash(this.store.crashed);
      return true;
    }
    this.publish(outcome.bytes, ephemeral ? "ephemeral" : "content");
    await this.sampleRoundTrip();
    return true;
  }

  private checkSendLamport(channel: string, lamport: bigint | undefined, ephemeral: boolean): void {
    if (ephemeral || lamport === undefined) return;
    const previous = this.lastSentLamport.get(channel);
    if (previous !== undefined && lamport <= previous) {
      this.context.violations.report("S4", `${this.id} sent lamport ${lamport} after ${previous} on ${channel}`, this.context.params.policy === "best-effort");
    }
    this.lastSentLamport.set(channel, lamport);
  }

  /** Hands arrived bytes to the engine. */
  async receive(from: string, bytes: Uint8Array): Promise<void> {
    const engine = this.engine;
    if (engine === undefined) return;
    const message = this.decode(bytes);
    this.context.history.record({
      k: "recv", peer: this.id, from, id: message?.messageId ?? "?", kind: message === undefined ? "undecodable" : kindOf(message),
      deps: (message?.causalHistory ?? []).map((entry) => entry.messageId),
    });
    let outcome: OperationOutcome;
    try {
      outcome = await engine.receive(bytes);
    } catch (error) {
      this.failed("receive", error);
      if (this.store?.crashed !== undefined) await this.crash(this.store.crashed);
      return;
    }
    if (this.armedDeliveryCrash && outcome.delivered.length > 0) {
      const processed = this.context.random.int(outcome.delivered.length);
      this.context.counters.add("crash.inside-delivery.unprocessed", outcome.delivered.length - processed);
      this.absorb(outcome);
      await this.crash("inside-delivery");
      return;
    }
    this.absorb(outcome);
    if (this.store?.crashed !== undefined) await this.crash(this.store.crashed);
    else {
      for (const wire of outcome.wire) this.publish(wire);
      await this.sampleRoundTrip();
    }
  }

  /** Runs the engine's timers; publishes resends, syncs and repairs. */
  async tick(): Promise<void> {
    const engine = this.engine;
    if (engine === undefined) return;
    let outcome: OperationOutcome;
    try {
      outcome = await engine.tick();
    } catch (error) {
      this.failed("tick", error);
      if (this.store?.crashed !== undefined) await this.crash(this.store.crashed);
      return;
    }
    this.absorb(outcome);
    if (this.store?.crashed !== undefined) {
      await this.crash(this.store.crashed);
      return;
    }
    if (this.armedTickCrash && outcome.wire.length > 0) {
      this.context.counters.add("crash.before-tick-release.unpublished", outcome.wire.length);
      await this.crash("before-tick-release");
      return;
    }
    for (const wire of outcome.wire) this.publish(wire);
    await this.sampleRoundTrip();
  }

  /**
   * S8, sampled (1 in 20 committed operations, own random stream): under write-before-release the
   * store must hold exactly what the engine holds after an operation returned.
   */
  private async sampleRoundTrip(): Promise<void> {
    const { params, violations, counters } = this.context;
    if (params.policy !== "write-before-release" || this.engine === undefined || this.store === undefined || this.engine.volatile === true) return;
    if (!this.roundTripSampler.chance(500)) return;
    for (const channel of params.channels) {
      const view = this.engine.holdings(channel);
      if (view === undefined) continue;
      const loaded = await this.store.inner.loadChannel(channel);
      if (!loaded.ok) continue;
      counters.add("check.s8.sampled");
      const difference = compareWithStore(view, loaded.value);
      if (difference !== undefined) violations.report("S8", `${this.id}/${channel} memory and store disagree after a committed operation: ${difference}`);
    }
  }

  /** Records deliveries and engine events in the history, in the order the engine emitted them. */
  private absorb(outcome: OperationOutcome): void {
    const { history, counters } = this.context;
    for (const code of outcome.deferredCommits) counters.add(`store.deferred.${code}`);
    const announced = new Set<Delivered>();
    for (const event of outcome.events) {
      counters.add(`engine.${event.type}${detailOf(event)}`);
      if (event.type === "delivered") {
        announced.add(event.delivered);
        this.recordDelivery(event.delivered);
      } else if (event.type === "acknowledged") history.record({ k: "ack", peer: this.id, channel: event.channelId, id: event.messageId, by: event.by });
      else if (event.type === "undelivered") history.record({ k: "undelivered", peer: this.id, channel: event.channelId, id: event.messageId });
      else if (event.type === "lost") {
        for (const entry of event.missing) history.record({ k: "lost", peer: this.id, channel: event.channelId, id: entry.messageId });
      } else if (event.type === "missing") {
        for (const entry of event.missing) history.record({ k: "missing", peer: this.id, channel: event.channelId, id: entry.messageId });
      }
    }
    for (const delivered of outcome.delivered) {
      if (announced.has(delivered)) continue;
      counters.add("check.delivered-without-event");
      this.recordDelivery(delivered);
    }
  }

  private recordDelivery(delivered: Delivered): void {
    this.context.history.record({
      k: "deliver", peer: this.id, channel: delivered.channelId, id: delivered.messageId, sender: delivered.senderId,
      lamport: String(delivered.lamportTimestamp ?? ""), contentHash: shortHash(delivered.content),
    });
  }

  /** Publishes `bytes` through the relay, recording what kind of message it is. */
  private publish(bytes: Uint8Array, hint?: WireKind): void {
    const message = this.decode(bytes);
    let kind: WireKind = hint ?? (message === undefined ? "undecodable" : kindOf(message));
    if (message !== undefined && kind === "content") {
      if (message.senderId !== this.id) kind = "repair";
      else if (this.publishedByMe.has(message.messageId)) kind = "resend";
    }
    if (message !== undefined) this.publishedByMe.add(message.messageId);
    const channel = message?.channelId ?? "?";
    this.context.history.record({
      k: "wire", peer: this.id, channel, id: message?.messageId ?? "?", sender: message?.senderId ?? "?", kind,
      repairRequests: message?.repairRequest.length ?? 0, bytes: bytes.length,
    });
    this.context.counters.add(`wire.${kind}`);
    this.context.counters.add("wire.bytes", bytes.length);
    if ((message?.repairRequest.length ?? 0) > 0) this.context.counters.add("wire.with-repair-request");
    if (!this.context.relay.publish(this.id, bytes)) return;
    if (message !== undefined && message.senderId === this.id && (kind === "content" || kind === "resend")) {
      const own = this.ownOnWire.get(channel) ?? new Set<string>();
      own.add(message.messageId);
      this.ownOnWire.set(channel, own);
    }
  }
}

/** Content, sync or ephemeral, by field presence (spec rules; nim has no sync/ephemeral). */
export function kindOf(message: SdsMessage): WireKind {
  if (message.lamportTimestamp === undefined) return "ephemeral";
  if (message.content === undefined || message.content.length === 0) return "sync";
  return "content";
}

function detailOf(event: EngineEvent): string {
  if (event.type === "acknowledged") return `.${event.by}`;
  if (event.type === "undelivered") return `.${event.reason}`;
  if (event.type === "evicted") return `.${event.buffer}`;
  return "";
}

/** Re-exported so the world can type the outcome of a receive. */
export type { Delivered };
