/**
 * SimWorld (reliability.md §5.3): one seed's run. It builds the peers, the relay and the
 * stores, schedules the workload, the periodic engine ticks and the nemesis (partitions,
 * outages, crashes at chosen points, power cuts, storage fault episodes, clock jumps; S9 is
 * checked when a peer reopens a store whose transaction was torn by a crash), runs the safety
 * phase with faults, then switches every fault off, restarts every peer (the core is everyone)
 * and runs the liveness phase until the world converges or the budget runs out. Finally it
 * checks the stores (S5, S6, S11, L3) and the history (S1–S3, S7, S13, L1) and returns the
 * trace hash, the violations, the exercise counters and the figures the campaign reports.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkHistory, type FinalState } from "./checkers.js";
import { Counters } from "./counters.js";
import { openBackingStore, type BackingStore } from "./engine-adapter.js";
import { History } from "./history.js";
import { DeliveryLedger } from "./ledger.js";
import { SimRelay } from "./network.js";
import { SimPeer } from "./peer.js";
import type { Holdings } from "./engine-adapter.js";
import { SimRandom } from "./prng.js";
import { Scheduler } from "./scheduler.js";
import type { WorldParams } from "./scenarios.js";
import { SimStore } from "./sim-store.js";
import { type Violation, Violations } from "./violations.js";
import { checkStores, checkTornCommit, type StoreSnapshot } from "./store-checks.js";
import { scheduleNemesis } from "./nemesis.js";
import { PowerJournal } from "./power-loss.js";

/** Virtual Unix time every run starts at (2026-01-01T00:00:00Z), so lamport values look real. */
export const SIM_EPOCH_MS = 1_767_225_600_000;
/** How often the liveness phase probes for convergence, virtual ms. */
const PROBE_INTERVAL_MS = 500;
/** Quiet window after convergence in which only sync traffic is allowed (L4), virtual ms. */
const COOL_DOWN_MS = 3_000;

/** What a run produced. */
export interface RunResult {
  params: WorldParams;
  traceHash: string;
  violations: Violation[];
  counters: Counters;
  /** Virtual ms from the start of the liveness phase to convergence; null when it never converged. */
  convergenceMs: number | null;
  /** Kept only when asked for (replay). */
  history?: History;
  /** Wall-clock ms the run took (not part of the trace). */
  wallMs: number;
}

/** Run options that do not change the trace. */
export interface RunOptions {
  keepHistory?: boolean;
  /**
   * Stream the history to a temporary file instead of memory (bounded memory for long soaks).
   * Default: on when the seed has 1 000 messages or more (F13). The trace is the same either way.
   */
  spillHistory?: boolean;
  /** Events of a spilled history also kept in memory (tests shrink it to exercise the file reads). */
  spillTailEventsMax?: number;
}

/** Shared state of a run that the nemesis and the phases act on. */
export interface WorldHandle {
  params: WorldParams;
  scheduler: Scheduler;
  random: SimRandom;
  relay: SimRelay;
  peers: SimPeer[];
  history: History;
  counters: Counters;
  violations: Violations;
  /** True during the safety phase (the nemesis acts only then). */
  safety: boolean;
  /** Schedules a restart of `peer` after a random delay (retries when the load fails). */
  scheduleRestart: (peer: SimPeer) => void;
  /** Cuts `peer`'s power: it crashes and its store keeps only its synced writes. */
  powerCut: (peer: SimPeer) => Promise<void>;
}

/** Spill files opened by this process (part of their names). */
let spillFiles = 0;

/** Runs one seed's world to the end. A kept, spilled history is removed at exit or by its `dispose()`. */
export async function runWorld(params: WorldParams, options: RunOptions = {}): Promise<RunResult> {
  const wallStart = performance.now();
  const scheduler = new Scheduler(SIM_EPOCH_MS);
  const random = new SimRandom(params.seed);
  const spillPath = (options.spillHistory ?? params.messages >= 1_000) ? join(tmpdir(), `sds-sim-history-${process.pid}-${params.seed}-${(spillFiles += 1)}.ndjson`) : undefined;
  const history = new History(() => scheduler.nowMs, spillPath === undefined ? undefined : { path: spillPath, tailEventsMax: options.spillTailEventsMax });
  const disposeHistory = (): void => history.dispose();
  const counters = new Counters();
  const violations = new Violations(history, () => scheduler.nowMs);
  const peerIds = Array.from({ length: params.peers }, (_, index) => `p${index}`);
  const directory = params.store === "sqlite" ? mkdtempSync(join(tmpdir(), "sds-sim-")) : undefined;
  const backing = new Map<string, BackingStore>();
  const peers: SimPeer[] = [];
  const relay = new SimRelay(scheduler, random.split("network"), params.network, peerIds, counters, async (to, from, bytes) => {
    await peers[Number(to.slice(1))]?.receive(from, bytes);
  });
  const world: WorldHandle = {
    params, scheduler, random, relay, peers, history, counters, violations, safety: true,
    scheduleRestart: () => undefined, powerCut: async () => undefined,
  };
  const journals = new Map<string, PowerJournal>();
  if (params.powerLoss.cuts > 0 && (params.store === "memory" || params.store === "model")) {
    const mode = params.policy === "write-before-release" ? "full" : "lazy";
    for (const id of peerIds) journals.set(id, new PowerJournal(mode, params.powerLoss.syncEveryWrites, counters, params.store));
  }
  world.powerCut = async (peer) => {
    const journal = journals.get(peer.id);
    const store = backing.get(peer.id);
    if (journal === undefined || store === undefined) return;
    history.record({ k: "fault", kind: "power-loss", detail: peer.id });
    await peer.crash("power-loss");
    store.persistence = await journal.cut();
  };
  const incarnations = new Map<string, number>();
  /** S9: per peer, the state each channel must have after a crash inside a SQLite transaction. */
  const tornExpectations = new Map<string, Map<string, string>>();
  const openStore = async (peerId: string): Promise<SimStore> => {
    let store = backing.get(peerId);
    if (store === undefined || store.closed) {
      store = await openBackingStore(params.store, directory, peerId, store);
      backing.set(peerId, store);
    }
    const torn = tornExpectations.get(peerId);
    if (torn !== undefined) {
      tornExpectations.delete(peerId);
      await checkTornCommit(peerId, store, torn, violations, counters);
    }
    const incarnation = (incarnations.get(peerId) ?? 0) + 1;
    incarnations.set(peerId, incarnation);
    const sim = new SimStore(store.persistence, random.split(`store-${peerId}-${incarnation}`), params.storage, counters, () => scheduler.nowMs, store.onCrashClose);
    sim.faultsEnabled = world.safety;
    sim.onTornCommit = (expected) => tornExpectations.set(peerId, expected);
    sim.journal = journals.get(peerId);
    return sim;
  };
  for (const [index, id] of peerIds.entries()) {
    peers.push(new SimPeer(id, {
      params, history, counters, relay, violations, worldNow: () => scheduler.nowMs, openStore,
      random: random.split(`peer-${id}`), onCrash: (peer) => world.scheduleRestart(peer),
    }, params.clock.skewMs[index] ?? 0));
  }
  world.scheduleRestart = (peer) => {
    const [low, high] = params.crashes.restartDelayMs;
    scheduler.after(random.range(low, Math.max(low, high)), `restart ${peer.id}`, async () => {
      if (peer.up) return;
      if (!(await peer.start())) world.scheduleRestart(peer);
      else counters.add("restart.ok");
    });
  };
  try {
    for (const peer of peers) {
      if (!(await peer.start())) throw new Error(`${peer.id} could not open its store at the start`);
    }
    let running = true;
    scheduleTicks(world, () => running);
    scheduleWorkload(world);
    scheduleNemesis(world);
    history.record({ k: "phase", name: "safety" });
    await scheduler.runUntil(SIM_EPOCH_MS + params.safetyMs);
    const livenessStart = await enterLiveness(world);
    const convergenceMs = await runLiveness(world, livenessStart, backing);
    running = false;
    const final = await finalState(world, backing);
    checkStores(final.snapshots, history, params, violations, counters);
    if (convergenceMs === null) reportPending(final.snapshots, violations);
    checkHistory(history, params, final, violations, counters);
    countRun(world, convergenceMs);
    const result: RunResult = {
      params, traceHash: history.traceHash(), violations: violations.list, counters, convergenceMs, wallMs: performance.now() - wallStart,
    };
    if (options.keepHistory === true) {
      result.history = history;
      process.once("exit", disposeHistory);
    }
    return result;
  } finally {
    if (options.keepHistory !== true) disposeHistory();
    for (const store of backing.values()) if (!store.closed) await store.close();
    if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
  }
}

/** Every peer ticks every `tickIntervalMs`, with a random phase so peers do not tick in lockstep. */
function scheduleTicks(world: WorldHandle, running: () => boolean): void {
  const { scheduler, params, random } = world;
  for (const peer of world.peers) {
    const loop = async (): Promise<void> => {
      if (!running()) return;
      if (peer.up) await peer.tick();
      scheduler.after(params.tickIntervalMs, `tick ${peer.id}`, loop);
    };
    scheduler.after(random.int(params.tickIntervalMs), `tick ${peer.id}`, loop);
  }
}

/** M application sends at random times in the first 80 % of the safety phase, from random peers. */
function scheduleWorkload(world: WorldHandle): void {
  const { scheduler, params, counters } = world;
  const random = world.random.split("workload");
  const encoder = new TextEncoder();
  for (let index = 0; index < params.messages; index += 1) {
    const peer = random.pick(world.peers);
    const channel = random.pick(params.channels);
    const ephemeral = random.chance(params.ephemeralBp);
    const payload = encoder.encode(`${peer.id}/${channel}/${index}/${random.u32().toString(16)}`);
    const attempt = async (tries: number): Promise<void> => {
      if (!peer.up) {
        counters.add("workload.deferred.peer-down");
        if (tries < 40) scheduler.after(500, `send ${index}`, () => attempt(tries + 1));
        return;
      }
      if (await peer.send(channel, payload, ephemeral)) counters.add(ephemeral ? "workload.accepted.ephemeral" : "workload.accepted");
      else counters.add("workload.refused");
    };
    scheduler.after(random.int(Math.floor(params.safetyMs * 0.8)), `send ${index}`, () => attempt(0));
  }
}

/** Faults off, everyone up (the core is every peer). Returns the liveness start time. */
async function enterLiveness(world: WorldHandle): Promise<number> {
  world.safety = false;
  world.history.record({ k: "phase", name: "liveness" });
  world.relay.quiesce();
  for (const peer of world.peers) {
    peer.disarm();
    if (!peer.up && !(await peer.start())) throw new Error(`${peer.id} failed to restart with faults off`);
  }
  return world.scheduler.nowMs;
}

/** Reads what every core peer's store holds (buffers, history) through the raw store. */
async function snapshotStores(world: WorldHandle, backing: Map<string, BackingStore>): Promise<StoreSnapshot[]> {
  const snapshots: StoreSnapshot[] = [];
  for (const peer of world.peers) {
    const store = backing.get(peer.id);
    if (store === undefined) continue;
    for (const channel of world.params.channels) {
      const loaded = await store.persistence.loadChannel(channel);
      if (!loaded.ok) throw new Error(`${peer.id}: loading ${channel} failed with faults off: ${loaded.error.message}`);
      snapshots.push({ peer: peer.id, channel, data: loaded.value });
    }
  }
  return snapshots;
}

/** One peer's holdings of one channel, from its store (end of run) or its running engine (probes). */
interface PeerHoldings {
  peer: string;
  channel: string;
  holdings: Holdings;
}

function fromSnapshots(snapshots: readonly StoreSnapshot[]): PeerHoldings[] {
  return snapshots.map(({ peer, channel, data }) => ({
    peer, channel,
    holdings: {
      history: new Set((data?.history ?? []).map((message) => message.messageId)),
      outgoing: new Set((data?.meta.outgoingBuffer ?? []).map((entry) => entry.message.messageId)),
      buffered: (data?.meta.incomingBuffer.length ?? 0) + (data?.meta.outgoingRepairBuffer.length ?? 0) + (data?.meta.incomingRepairBuffer.length ?? 0),
    },
  }));
}

/** From the running engines; a channel the engine has not loaded is read from the store instead. */
async function fromEngines(world: WorldHandle, backing: Map<string, BackingStore>): Promise<PeerHoldings[]> {
  const all: PeerHoldings[] = [];
  for (const peer of world.peers) {
    for (const channel of world.params.channels) {
      const holdings = peer.holdings(channel);
      if (holdings !== undefined) {
        all.push({ peer: peer.id, channel, holdings });
        continue;
      }
      const loaded = await backing.get(peer.id)?.persistence.loadChannel(channel);
      all.push(...fromSnapshots([{ peer: peer.id, channel, data: loaded?.ok === true ? loaded.value : undefined }]));
    }
  }
  return all;
}

function heldBy(all: readonly PeerHoldings[]): Map<string, Set<string>> {
  const held = new Map<string, Set<string>>();
  for (const { channel, holdings } of all) {
    const ids = held.get(channel) ?? new Set<string>();
    for (const id of holdings.history) ids.add(id);
    for (const id of holdings.outgoing) ids.add(id);
    held.set(channel, ids);
  }
  return held;
}

function historiesOf(all: readonly PeerHoldings[]): Map<string, Set<string>> {
  return new Map(all.map(({ peer, channel, holdings }) => [`${peer}\u0000${channel}`, holdings.history] as const));
}

function buffersEmpty(all: readonly PeerHoldings[]): boolean {
  return all.every(({ holdings }) => holdings.outgoing.size === 0 && holdings.buffered === 0);
}

/**
 * Runs until converged, then a cool-down: if non-sync traffic in the cool-down made progress
 * (deliveries, lost or missing reports, e.g. a message given up by its sender and then repaired)
 * or left the world unconverged, probing resumes; non-sync traffic that changes nothing is a
 * storm (L4). Returns the time of the last, stable convergence, or null when the budget ran out.
 */
async function runLiveness(world: WorldHandle, startMs: number, backing: Map<string, BackingStore>): Promise<number | null> {
  const { scheduler, history, params, counters } = world;
  const ledger = new DeliveryLedger();
  const core = world.peers.map((peer) => peer.id);
  const deadline = startMs + params.livenessBudgetMs;
  let convergedAt: number | null = null;
  const probe = async (): Promise<void> => {
    if (convergedAt !== null) return;
    ledger.feed(history);
    if (world.relay.inFlightCount === 0) {
      const holdings = await fromEngines(world, backing);
      if (buffersEmpty(holdings) && ledger.owedCount(core, heldBy(holdings), historiesOf(holdings)) === 0) {
        convergedAt = scheduler.nowMs;
        return;
      }
    }
    scheduler.after(PROBE_INTERVAL_MS, "probe", probe);
  };
  for (;;) {
    convergedAt = null;
    scheduler.after(0, "probe", probe);
    await scheduler.runUntil(deadline, () => convergedAt !== null);
    if (convergedAt === null) return null;
    const coolStart = history.length;
    await scheduler.runUntil(scheduler.nowMs + COOL_DOWN_MS);
    const window = history.slice(coolStart);
    const traffic = window.filter((event) => event.k === "wire" && event.kind !== "sync");
    if (traffic.length === 0) return convergedAt - startMs;
    ledger.feed(history);
    const holdings = await fromEngines(world, backing);
    const stillConverged = world.relay.inFlightCount === 0 && buffersEmpty(holdings) && ledger.owedCount(core, heldBy(holdings), historiesOf(holdings)) === 0;
    const progressed = window.some((event) => event.k === "deliver" || event.k === "lost" || event.k === "missing");
    if ((progressed || !stillConverged) && scheduler.nowMs < deadline) {
      counters.add("l2.converged-again-after-cool-down");
      continue;
    }
    for (const event of traffic) {
      if (event.k !== "wire") continue;
      counters.add("l4.storm");
      world.violations.report("L4", `${event.peer} published ${event.kind} ${event.id} after convergence without any delivery following`);
    }
    return convergedAt - startMs;
  }
}

async function finalState(world: WorldHandle, backing: Map<string, BackingStore>): Promise<FinalState & { snapshots: StoreSnapshot[] }> {
  const snapshots = await snapshotStores(world, backing);
  // A peer without a store (the @waku/sds peer of F14) is judged by what its engine holds.
  const volatile = new Set(world.peers.filter((peer) => peer.volatile).map((peer) => peer.id));
  const holdings = fromSnapshots(snapshots.filter((snapshot) => !volatile.has(snapshot.peer)));
  for (const peer of world.peers) {
    if (!volatile.has(peer.id)) continue;
    for (const channel of world.params.channels) {
      const held = peer.holdings(channel) ?? { history: new Set<string>(), outgoing: new Set<string>(), buffered: 0 };
      holdings.push({ peer: peer.id, channel, holdings: held });
    }
  }
  return { corePeers: world.peers.map((peer) => peer.id), heldByCore: heldBy(holdings), historyOf: historiesOf(holdings), snapshots };
}

function reportPending(snapshots: readonly StoreSnapshot[], violations: Violations): void {
  for (const { peer, channel, data } of snapshots) {
    if (data === undefined) continue;
    const meta = data.meta;
    const pending = [
      ["outgoing", meta.outgoingBuffer.length], ["incoming", meta.incomingBuffer.length],
      ["outgoingRepair", meta.outgoingRepairBuffer.length], ["incomingRepair", meta.incomingRepairBuffer.length],
    ].filter(([, size]) => (size as number) > 0);
    const waiting = meta.incomingBuffer.slice(0, 3).map((entry) => `${entry.message.messageId.slice(0, 12)} waits on [${entry.missingDeps.map((id) => id.slice(0, 12)).join(",")}] since ${entry.receivedAtMs ?? "?"}`);
    if (pending.length > 0) violations.report("L3", `${peer}/${channel} buffers not drained at the end of the liveness budget: ${pending.map(([name, size]) => `${name}=${size}`).join(" ")}${waiting.length > 0 ? `; ${waiting.join("; ")}` : ""}`);
  }
}

function countRun(world: WorldHandle, convergenceMs: number | null): void {
  const { counters, history } = world;
  counters.add("run.seeds");
  if (convergenceMs === null) counters.add("run.not-converged");
  counters.add("run.events", history.length);
}
