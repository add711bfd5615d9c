/**
 * Test support for the engine and the ReliabilityManager: a controllable clock, a seeded
 * PRNG, and a faithful in-memory `Persistence` that applies `commit` deltas atomically and
 * can be told to fail (nim-sds `failingOps` style) to exercise both persistence policies.
 */
import { StoreError, ok, err, type Result } from "../../../../src/core/errors.js";
import type { ChannelData, ChannelDelta, ChannelMeta, HistoryUpdate, Persistence } from "../../../../src/core/store/contract.js";
import { compareRecords } from "../../../../src/core/protocol/engine/history.js";
import type { SdsMessage } from "../../../../src/core/protocol/types.js";

/** A clock the test moves by hand. */
export class FakeClock {
  constructor(public nowMs = 1_700_000_000_000) {}
  readonly now = (): number => this.nowMs;
  advance(ms: number): void {
    this.nowMs += ms;
  }
}

/** The library's seeded PRNG (mulberry32), shared rather than copied. */
import { seededRandom } from "../../../../src/core/random.js";
export { seededRandom };

/** The seed of a randomized test: SDS_SEED when set, else fresh; printed so a failure can be replayed. */
export function testSeed(name: string): number {
  const fromEnv = process.env.SDS_SEED;
  const seed = fromEnv !== undefined && fromEnv !== "" ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 31);
  process.stderr.write(`[${name}] seed ${seed} (replay with SDS_SEED=${seed})\n`);
  return seed;
}

interface StoredChannel {
  lamportTimestamp: bigint;
  outgoing: Map<string, ChannelMeta["outgoingBuffer"][number]>;
  incoming: Map<string, ChannelMeta["incomingBuffer"][number]>;
  outgoingRepair: Map<string, ChannelMeta["outgoingRepairBuffer"][number]>;
  incomingRepair: Map<string, ChannelMeta["incomingRepairBuffer"][number]>;
  history: Map<string, SdsMessage>;
  hints: Map<string, Uint8Array>;
}

type Operation = "commit" | "loadChannel" | "dropChannel" | "listChannels";

/** A faithful in-memory store with injectable failures. */
export class TestPersistence implements Persistence {
  readonly channels = new Map<string, StoredChannel>();
  readonly calls: Record<Operation, number> = { commit: 0, loadChannel: 0, dropChannel: 0, listChannels: 0 };
  private readonly failures = new Map<Operation, number>();

  /** The next `count` calls of `operation` fail with E_STORE_BUSY. */
  failNext(operation: Operation, count = 1): void {
    this.failures.set(operation, count);
  }

  private shouldFail(operation: Operation): boolean {
    this.calls[operation] += 1;
    const left = this.failures.get(operation) ?? 0;
    if (left <= 0) return false;
    this.failures.set(operation, left - 1);
    return true;
  }

  private failure(operation: Operation): Result<never> {
    return err(new StoreError("E_STORE_BUSY", `injected ${operation} failure`));
  }

  private stored(channelId: string): StoredChannel {
    let channel = this.channels.get(channelId);
    if (channel === undefined) {
      channel = { lamportTimestamp: 0n, outgoing: new Map(), incoming: new Map(), outgoingRepair: new Map(), incomingRepair: new Map(), history: new Map(), hints: new Map() };
      this.channels.set(channelId, channel);
    }
    return channel;
  }

  async commit(deltas: readonly ChannelDelta[]): Promise<Result<void>> {
    if (this.shouldFail("commit")) return this.failure("commit");
    for (const delta of deltas) {
      const channel = this.stored(delta.channelId);
      channel.lamportTimestamp = delta.lamportTimestamp;
      const apply = <T>(target: Map<string, T>, change: { upsert: T[]; remove: string[] }, id: (value: T) => string) => {
        for (const removed of change.remove) target.delete(removed);
        for (const value of change.upsert) target.set(id(value), structuredClone(value));
      };
      apply(channel.outgoing, delta.outgoing, (value) => value.message.messageId);
      apply(channel.incoming, delta.incoming, (value) => value.message.messageId);
      apply(channel.outgoingRepair, delta.outgoingRepair, (value) => value.entry.messageId);
      apply(channel.incomingRepair, delta.incomingRepair, (value) => value.entry.messageId);
      for (const evicted of delta.history.evict) channel.history.delete(evicted);
      for (const message of delta.history.append) channel.history.set(message.messageId, structuredClone(message));
      for (const { messageId, hint } of delta.retrievalHints) channel.hints.set(messageId, hint.slice());
    }
    return ok(undefined);
  }

  async loadChannel(channelId: string): Promise<Result<ChannelData | undefined>> {
    if (this.shouldFail("loadChannel")) return this.failure("loadChannel");
    const channel = this.channels.get(channelId);
    if (channel === undefined) return ok(undefined);
    const history = [...channel.history.values()].sort((a, b) =>
      compareRecords({ lamport: a.lamportTimestamp ?? 0n, messageId: a.messageId }, { lamport: b.lamportTimestamp ?? 0n, messageId: b.messageId }),
    );
    return ok(structuredClone({
      meta: {
        schemaVersion: 1 as const,
        lamportTimestamp: channel.lamportTimestamp,
        outgoingBuffer: [...channel.outgoing.values()],
        incomingBuffer: [...channel.incoming.values()],
        outgoingRepairBuffer: [...channel.outgoingRepair.values()],
        incomingRepairBuffer: [...channel.incomingRepair.values()],
      },
      history,
      retrievalHints: new Map(channel.hints),
    }));
  }

  async dropChannel(channelId: string): Promise<Result<void>> {
    if (this.shouldFail("dropChannel")) return this.failure("dropChannel");
    this.channels.delete(channelId);
    return ok(undefined);
  }

  async listChannels(): Promise<Result<string[]>> {
    if (this.shouldFail("listChannels")) return this.failure("listChannels");
    return ok([...this.channels.keys()]);
  }

  async saveChannelMeta(): Promise<Result<void>> {
    return ok(undefined);
  }

  async updateHistory(_channelId: string, _update: HistoryUpdate): Promise<Result<void>> {
    return ok(undefined);
  }

  async setRetrievalHint(channelId: string, messageId: string, hint: Uint8Array): Promise<Result<void>> {
    this.stored(channelId).hints.set(messageId, hint.slice());
    return ok(undefined);
  }

  async close(): Promise<void> {}
}

/** UTF-8 bytes of `text`. */
export const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
/** `bytes` as text. */
export const text = (data: Uint8Array): string => new TextDecoder().decode(data);

import { ReliabilityManager, type ReliabilityManagerOptions } from "../../../../src/core/reliability-manager.js";
import type { Delivered } from "../../../../src/core/protocol/engine/index.js";

/**
 * An in-process bus (nim-sds `TestBus` style): every published wire goes to every other peer
 * unless the test drops it; records the wire log and each peer's deliveries.
 */
export class TestBus {
  readonly peers = new Map<string, ReliabilityManager>();
  readonly delivered = new Map<string, Delivered[]>();
  readonly wireLog: Array<{ from: string; wire: Uint8Array }> = [];
  /** Return true to drop `wire` from `from` on its way to `to`. */
  drop: (from: string, to: string, wire: Uint8Array) => boolean = () => false;

  constructor(readonly clock = new FakeClock(), readonly defaults: Partial<ReliabilityManagerOptions> = {}) {}

  add(participantId: string, options: Partial<ReliabilityManagerOptions> = {}): ReliabilityManager {
    const manager = new ReliabilityManager({ participantId, now: this.clock.now, random: seededRandom(participantId.length * 7919), ...this.defaults, ...options });
    this.peers.set(participantId, manager);
    this.delivered.set(participantId, []);
    return manager;
  }

  /** Publishes `wires` from `from` to every other peer (in order). */
  async publish(from: string, wires: readonly Uint8Array[]): Promise<void> {
    for (const wire of wires) {
      this.wireLog.push({ from, wire });
      for (const [to, peer] of this.peers) {
        if (to === from || this.drop(from, to, wire)) continue;
        const result = await peer.receive(wire);
        this.delivered.get(to)!.push(...result.delivered);
      }
    }
  }

  /** Sends `text` from `from` on `channelId` and publishes it; returns the message id. */
  async send(from: string, channelId: string, message: string): Promise<string> {
    const sent = await this.peers.get(from)!.send(channelId, bytes(message));
    await this.publish(from, [sent.wire]);
    return sent.messageId;
  }

  /** Ticks every peer once and publishes what each produced. */
  async tick(): Promise<void> {
    for (const [id, peer] of this.peers) {
      const result = await peer.tick();
      this.delivered.get(id)!.push(...result.delivered);
      await this.publish(id, result.wire);
    }
  }

  /** Texts delivered to `peer`, in order. */
  texts(peer: string): string[] {
    return this.delivered.get(peer)!.map((delivered) => text(delivered.content));
  }
}
