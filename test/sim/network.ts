/**
 * The simulated relay: a pub/sub hop between peers with faults, after TigerBeetle's
 * `packet_simulator.zig` (reliability.md §1.4).
 *
 * A publish fans out to every other peer (and, per seed, echoes back to the publisher as a real
 * relay may). Each directed path (from → to) delays packets by `min + Exponential(mean)`, so
 * reordering emerges from independent delays; on arrival a packet may be lost or replayed
 * (duplicated); a full path drops a random queued packet; a path can be clogged for a while;
 * partitions (symmetric or asymmetric) and relay outages drop everything they cover.
 * All faults can be switched off at once for the liveness phase.
 */
import type { Counters } from "./counters.js";
import type { SimRandom } from "./prng.js";
import type { Scheduler } from "./scheduler.js";

/** Per-seed network fault parameters (drawn by the scenario). Times are virtual ms. */
export interface NetworkParams {
  delayMinMs: number;
  delayMeanMs: number;
  /** Loss on arrival, basis points. */
  lossBp: number;
  /** Replay (duplicate) on arrival, basis points. */
  replayBp: number;
  /** In-flight packets per path before a random one is dropped. */
  pathCapacity: number;
  /** Chance per packet that its path clogs, basis points. */
  clogBp: number;
  clogMeanMs: number;
  /** Whether the relay echoes a publish back to its publisher. */
  echoToSender: boolean;
}

/** Network parameters with every fault off (liveness phase; F0). */
export const QUIET_NETWORK: NetworkParams = {
  delayMinMs: 1,
  delayMeanMs: 5,
  lossBp: 0,
  replayBp: 0,
  pathCapacity: 1_000_000,
  clogBp: 0,
  clogMeanMs: 0,
  echoToSender: false,
};

/** How a packet reaches a peer. */
export type DeliverPacket = (to: string, from: string, bytes: Uint8Array) => Promise<void>;

interface Packet {
  from: string;
  to: string;
  bytes: Uint8Array;
  publishSequence: number;
  dropped: boolean;
  replayed: boolean;
}

/** Partition shapes of the VOPR (`PartitionMode`). */
export type PartitionMode = "isolate_single" | "uniform_size" | "uniform_partition";

/** The relay between the simulated peers. */
export class SimRelay {
  private params: NetworkParams;
  private readonly inFlight = new Map<string, Packet[]>();
  private readonly clogUntil = new Map<string, number>();
  private readonly lastDelivered = new Map<string, number>();
  private blocked = new Set<string>();
  private outageUntilMs = -1;
  private publishSequence = 0;
  /** Peers currently up; packets to a down peer are dropped on arrival. */
  readonly up = new Set<string>();

  constructor(
    private readonly scheduler: Scheduler,
    private readonly random: SimRandom,
    params: NetworkParams,
    private readonly peers: readonly string[],
    private readonly counters: Counters,
    private readonly deliver: DeliverPacket,
  ) {
    this.params = { ...params };
  }

  /** Replaces the fault parameters (the liveness phase passes {@link QUIET_NETWORK}). */
  setParams(params: NetworkParams): void {
    this.params = { ...params };
  }

  /** Packets published and not yet arrived or dropped. */
  get inFlightCount(): number {
    let total = 0;
    for (const queue of this.inFlight.values()) total += queue.length;
    return total;
  }

  /** Publishes `bytes` from `from`. Returns false when the relay is down (the publish failed). */
  publish(from: string, bytes: Uint8Array): boolean {
    if (this.scheduler.nowMs < this.outageUntilMs) {
      this.counters.add("net.drop.outage");
      return false;
    }
    const sequence = this.publishSequence++;
    for (const to of this.peers) {
      if (to === from && !this.params.echoToSender) continue;
      this.submit({ from, to, bytes, publishSequence: sequence, dropped: false, replayed: false });
    }
    return true;
  }

  private submit(packet: Packet): void {
    const path = `${packet.from}>${packet.to}`;
    const queue = this.inFlight.get(path) ?? [];
    this.inFlight.set(path, queue);
    if (queue.length >= this.params.pathCapacity) {
      const victim = queue.splice(this.random.int(queue.length), 1)[0] as Packet;
      victim.dropped = true;
      this.counters.add("net.drop.capacity");
    }
    queue.push(packet);
    if (this.random.chance(this.params.clogBp)) {
      const until = this.scheduler.nowMs + this.random.exponential(this.params.clogMeanMs);
      this.clogUntil.set(path, Math.max(this.clogUntil.get(path) ?? 0, until));
      this.counters.add("net.clog");
    }
    const delay = this.params.delayMinMs + this.random.exponential(this.params.delayMeanMs);
    this.scheduler.after(delay, `arrive ${path}`, () => this.arrive(path, packet));
  }

  private async arrive(path: string, packet: Packet): Promise<void> {
    if (packet.dropped) return;
    const clogged = this.clogUntil.get(path) ?? 0;
    if (clogged > this.scheduler.nowMs) {
      this.counters.add("net.clogged.held");
      this.scheduler.after(clogged - this.scheduler.nowMs, `unclog ${path}`, () => this.arrive(path, packet));
      return;
    }
    const queue = this.inFlight.get(path) ?? [];
    const index = queue.indexOf(packet);
    if (index >= 0) queue.splice(index, 1);
    if (this.dropReason(path, packet) !== undefined) return;
    const last = this.lastDelivered.get(path) ?? -1;
    if (packet.publishSequence < last) this.counters.add("net.reorder");
    else this.lastDelivered.set(path, packet.publishSequence);
    if (!packet.replayed && this.random.chance(this.params.replayBp)) {
      this.counters.add("net.replay");
      this.submit({ ...packet, replayed: true, dropped: false });
    }
    this.counters.add("net.delivered");
    await this.deliver(packet.to, packet.from, packet.bytes);
  }

  private dropReason(path: string, packet: Packet): string | undefined {
    let reason: string | undefined;
    if (this.scheduler.nowMs < this.outageUntilMs) reason = "outage";
    else if (this.blocked.has(path)) reason = "partition";
    else if (!this.up.has(packet.to)) reason = "peer-down";
    else if (this.random.chance(this.params.lossBp)) reason = "loss";
    if (reason !== undefined) this.counters.add(`net.drop.${reason}`);
    return reason;
  }

  /**
   * Cuts the network per `mode`. Symmetric cuts block both directions between the sides;
   * asymmetric ones block only side A → side B. Returns a description for the history.
   */
  partition(mode: PartitionMode, symmetric: boolean): string {
    const shuffled = this.random.shuffle(this.peers);
    let sideA: string[];
    if (mode === "isolate_single") sideA = shuffled.slice(0, 1);
    else if (mode === "uniform_size") sideA = shuffled.slice(0, this.random.range(1, Math.max(1, this.peers.length - 1)));
    else sideA = shuffled.filter(() => this.random.ratio(1, 2));
    const sideB = shuffled.filter((peer) => !sideA.includes(peer));
    this.blocked = new Set();
    for (const a of sideA) {
      for (const b of sideB) {
        this.blocked.add(`${a}>${b}`);
        if (symmetric) this.blocked.add(`${b}>${a}`);
      }
    }
    this.counters.add(`net.partition.${mode}.${symmetric ? "symmetric" : "asymmetric"}`);
    return `${mode} ${symmetric ? "sym" : "asym"} [${sideA.join(",")}] | [${sideB.join(",")}]`;
  }

  /** Ends any partition. */
  heal(): void {
    if (this.blocked.size > 0) this.counters.add("net.heal");
    this.blocked = new Set();
  }

  /** Whether a partition is in force. */
  get partitioned(): boolean {
    return this.blocked.size > 0;
  }

  /** The relay drops everything (in flight and new) for `durationMs`, then comes back empty. */
  outage(durationMs: number): void {
    this.outageUntilMs = this.scheduler.nowMs + durationMs;
    this.counters.add("net.outage");
  }

  /** Ends every fault at once: partitions, clogs, outage (liveness phase). */
  quiesce(): void {
    this.heal();
    this.clogUntil.clear();
    this.outageUntilMs = -1;
    this.setParams(QUIET_NETWORK);
  }
}
