/**
 * Fault scenarios F0–F14 of reliability.md §5.4 and the per-seed parameter draws ("swarm
 * testing", §1.3): each seed picks a scenario (seed mod the list, so a batch covers them all)
 * and draws that scenario's knobs from its own stream, so different seeds stress different
 * regimes. `swarm` turns a random subset of every fault on. SDS timers are the production
 * defaults ÷ 60 (resend 1 s, sync 0.5 s, repair T 0.5–5 s), in virtual time.
 */
import type { SdsConfig } from "../../src/core/protocol/config.js";
import type { DialectName } from "../../src/core/protocol/types.js";
import { type NetworkParams, type PartitionMode, QUIET_NETWORK } from "./network.js";
import { SimRandom } from "./prng.js";

/** Scenario ids; `swarm` mixes all faults. F13 (soak) and F14 (differential) run only when asked for by name. */
export const SCENARIOS = ["F0", "F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "F9", "F10", "F11", "F12", "swarm"] as const;
/** A scenario id, or `F13` (soak) / `F14` (@waku/sds differential), both opt-in. */
export type ScenarioId = (typeof SCENARIOS)[number] | "F13" | "F14";
/** Scenarios a campaign runs only when asked for by name. */
export const OPT_IN_SCENARIOS = ["F13", "F14"] as const;

/** What each scenario is about (for reports). */
export const SCENARIO_TITLES: Record<ScenarioId, string> = {
  F0: "baseline, no faults",
  F1: "uniform loss",
  F2: "reorder (exponential delay)",
  F3: "duplication (replay)",
  F4: "partition then heal",
  F5: "long partition (beyond resends and repair T_max)",
  F6: "relay outage",
  F7: "crash-restart at enumerated crash points",
  F8: "crash during repair",
  F9: "clock skew and backward jumps",
  F10: "bloom false positives (tiny bloom)",
  F11: "history eviction",
  F12: "many channels",
  F13: "soak",
  F14: "differential: @waku/sds MessageChannel peers beside ours",
  swarm: "random mix of every fault",
};

/** Where a crash hits an operation. */
export type CrashPoint = "idle" | "before-commit" | "after-commit" | "inside-delivery" | "before-tick-release" | "power-loss";
/** Every crash point, for counters and enumeration. */
export const CRASH_POINTS: readonly CrashPoint[] = ["idle", "before-commit", "after-commit", "inside-delivery", "before-tick-release"];

/** Which persistence policy the engine runs under. */
export type PolicyName = "write-before-release" | "best-effort";
/** Which store backs the peers: the real memory or SQLite-file store, or the simulator's model store. */
export type StoreKind = "memory" | "sqlite" | "model";

/** Everything one seed's world is made of. Times in virtual ms. */
export interface WorldParams {
  seed: number;
  scenario: ScenarioId;
  dialect: DialectName;
  policy: PolicyName;
  store: StoreKind;
  peers: number;
  channels: string[];
  messages: number;
  /** Share of sends that are ephemeral (spec dialect only), basis points. */
  ephemeralBp: number;
  safetyMs: number;
  livenessBudgetMs: number;
  tickIntervalMs: number;
  network: NetworkParams;
  partitions: { count: number; modes: PartitionMode[]; symmetricBp: number; durationMs: [number, number] };
  outages: { count: number; durationMs: number };
  crashes: { perPeer: number; points: CrashPoint[]; restartDelayMs: [number, number] };
  /**
   * Storage faults: commits failing cleanly, commits that land but report failure (an ambiguous
   * commit), loads failing, and disk-full / busy episodes.
   */
  storage: { commitFailBp: number; ambiguousCommitBp: number; loadFailBp: number; fullEpisodes: number; busyEpisodes: number; episodeMs: number };
  clock: { skewMs: number[]; backwardJumps: number; jumpMs: number };
  config: Partial<SdsConfig>;
  /**
   * Power cuts during the safety phase (memory/model stores only, F7 and swarm): each crashes a
   * peer and drops its unsynced writes; best-effort syncs every `syncEveryWrites` writes.
   */
  powerLoss: { cuts: number; syncEveryWrites: number };
  /** Peers that run @waku/sds 0.0.8's MessageChannel instead of our engine (F14 only). */
  wakuPeers: string[];
}

/** Timers scaled ÷ 60 from production defaults. */
function baseConfig(random: SimRandom): Partial<SdsConfig> {
  return {
    resendIntervalMs: 1_000,
    maxResendAttempts: random.range(4, 10),
    syncIntervalMs: 500,
    repairTMinMs: 500,
    repairTMaxMs: 5_000,
    lostMessageTimeoutMs: 20_000,
    causalHistorySize: random.range(2, 20),
    bloomCapacity: 2_000,
    bloomErrorRate: 0.001,
  };
}

function randomNetwork(random: SimRandom): NetworkParams {
  return {
    delayMinMs: random.range(0, 30),
    delayMeanMs: random.range(30, 100),
    lossBp: random.range(0, 3_000),
    replayBp: random.range(0, 5_000),
    pathCapacity: random.range(2, 20),
    clogBp: random.range(0, 200),
    clogMeanMs: random.range(0, 5_000),
    echoToSender: random.ratio(1, 2),
  };
}

const NO_FAULTS = {
  partitions: { count: 0, modes: ["isolate_single"] as PartitionMode[], symmetricBp: 10_000, durationMs: [0, 0] as [number, number] },
  outages: { count: 0, durationMs: 0 },
  crashes: { perPeer: 0, points: [] as CrashPoint[], restartDelayMs: [0, 0] as [number, number] },
  storage: { commitFailBp: 0, ambiguousCommitBp: 0, loadFailBp: 0, fullEpisodes: 0, busyEpisodes: 0, episodeMs: 0 },
};

/** Options a campaign imposes on every seed. */
export interface DrawOptions {
  policy: PolicyName;
  store: StoreKind;
  /** Force a scenario instead of `seed mod SCENARIOS.length`. */
  scenario?: ScenarioId;
}

/** Draws seed `seed`'s world. Pure: the same seed and options give the same parameters. */
export function drawWorld(seed: number, options: DrawOptions): WorldParams {
  const random = new SimRandom(seed).split("params");
  const scenario = options.scenario ?? SCENARIOS[seed % SCENARIOS.length] as ScenarioId;
  const peers = random.range(2, 5);
  const dialect: DialectName = random.ratio(1, 5) ? "nim" : "spec";
  const params: WorldParams = {
    seed, scenario, dialect, policy: options.policy, store: options.store,
    peers, channels: ["sim"], messages: random.range(15, 50),
    ephemeralBp: dialect === "spec" ? random.range(0, 800) : 0,
    safetyMs: 30_000, livenessBudgetMs: 90_000, tickIntervalMs: random.range(50, 200),
    network: { ...QUIET_NETWORK, delayMinMs: random.range(1, 10), delayMeanMs: random.range(5, 30), echoToSender: random.ratio(1, 2) },
    ...structuredClone(NO_FAULTS),
    clock: { skewMs: Array.from({ length: peers }, () => 0), backwardJumps: 0, jumpMs: 0 },
    config: baseConfig(random),
    wakuPeers: [],
    powerLoss: { cuts: 0, syncEveryWrites: 1 },
  };
  applyScenario(params, random);
  drawPowerLoss(params);
  return params;
}

function drawCrashes(params: WorldParams, random: SimRandom, points: CrashPoint[]): void {
  params.crashes = { perPeer: random.range(1, 5), points, restartDelayMs: [0, random.range(100, 5_000)] };
}

function drawStorage(params: WorldParams, random: SimRandom): void {
  params.storage = {
    commitFailBp: random.range(0, 1_000), ambiguousCommitBp: random.range(0, 300), loadFailBp: random.range(500, 5_000),
    fullEpisodes: random.range(1, 3), busyEpisodes: random.range(1, 3), episodeMs: random.range(200, 3_000),
  };
}

function applyScenario(params: WorldParams, random: SimRandom): void {
  const network = params.network;
  switch (params.scenario) {
    case "F0": params.peers = 3; params.clock.skewMs = [0, 0, 0]; params.ephemeralBp = 0; break;
    case "F1": network.lossBp = random.pick([100, 500, 1_000, 3_000]); break;
    case "F2": network.delayMinMs = 0; network.delayMeanMs = 100; break;
    case "F3": network.replayBp = 5_000; break;
    case "F4":
      params.partitions = { count: random.range(1, 3), modes: ["isolate_single", "uniform_size"], symmetricBp: 5_000, durationMs: [500, 5_000] };
      break;
    case "F5":
      params.partitions = { count: 1, modes: ["isolate_single", "uniform_size"], symmetricBp: 5_000, durationMs: [20_000, 25_000] };
      params.safetyMs = 40_000;
      break;
    case "F6": params.outages = { count: random.range(1, 2), durationMs: random.range(3_000, 10_000) }; break;
    case "F7": drawCrashes(params, random, [...CRASH_POINTS]); break;
    case "F8":
      network.lossBp = random.range(500, 2_000);
      drawCrashes(params, random, ["before-tick-release", "after-commit", "idle"]);
      break;
    case "F9":
      params.clock = {
        skewMs: Array.from({ length: params.peers }, () => random.range(-600_000, 600_000)),
        backwardJumps: random.range(1, 4), jumpMs: random.range(1_000, 3_600_000),
      };
      break;
    case "F10": params.config.bloomCapacity = 16; params.config.bloomErrorRate = 0.1; network.lossBp = random.range(0, 1_000); break;
    case "F11": params.config.historyEntriesMax = 20; params.messages = random.range(60, 120); break;
    case "F12": params.channels = Array.from({ length: random.range(2, 6) }, (_, index) => `sim-${index}`); break;
    case "F13": applySwarm(params, random); params.messages = 2_000; params.peers = 6; params.safetyMs = 600_000; break;
    case "F14": applyDifferential(params, random); break;
    case "swarm": applySwarm(params, random); break;
  }
  if (params.clock.skewMs.length !== params.peers) params.clock.skewMs = Array.from({ length: params.peers }, () => 0);
}

/**
 * F14: 3–4 peers, one or two of them @waku/sds MessageChannels, spec dialect, a mildly lossy,
 * reordering, duplicating network, no crashes or storage faults (the reference keeps nothing on
 * disk), few messages (its local history insert sorts the whole log). The bloom filter uses
 * @waku/sds's fixed parameters (10 000 entries, 0.1 %) so both sides read each other's filters.
 */
function applyDifferential(params: WorldParams, random: SimRandom): void {
  params.dialect = "spec";
  params.peers = random.range(3, 4);
  params.messages = random.range(10, 25);
  params.ephemeralBp = random.range(0, 800);
  params.network = { ...params.network, lossBp: random.range(0, 1_000), replayBp: random.range(0, 3_000), delayMeanMs: random.range(5, 80) };
  params.config.bloomCapacity = 10_000;
  params.config.bloomErrorRate = 0.001;
  params.wakuPeers = random.ratio(1, 2) ? ["p0"] : ["p0", "p1"];
}

/** Power cuts from their own stream, so the other draws of a seed stay what they were. */
function drawPowerLoss(params: WorldParams): void {
  if (params.store === "sqlite" || (params.scenario !== "F7" && params.scenario !== "swarm")) return;
  const random = new SimRandom(params.seed).split("power-loss");
  params.powerLoss = { cuts: random.range(0, 2), syncEveryWrites: random.range(2, 8) };
}

/** Every fault family switched on or off at random, with random strength. */
function applySwarm(params: WorldParams, random: SimRandom): void {
  params.network = randomNetwork(random);
  if (random.ratio(1, 2)) {
    params.partitions = {
      count: random.range(1, 3), modes: ["isolate_single", "uniform_size", "uniform_partition"],
      symmetricBp: random.range(0, 10_000), durationMs: [100, random.range(1_000, 10_000)],
    };
  }
  if (random.ratio(1, 4)) params.outages = { count: 1, durationMs: random.range(1_000, 10_000) };
  if (random.ratio(1, 2)) drawCrashes(params, random, [...CRASH_POINTS]);
  if (random.ratio(1, 2)) drawStorage(params, random);
  if (random.ratio(1, 3)) {
    params.clock = {
      skewMs: Array.from({ length: params.peers }, () => random.range(-60_000, 60_000)),
      backwardJumps: random.range(0, 2), jumpMs: random.range(1_000, 600_000),
    };
  }
}
