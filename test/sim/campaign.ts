/**
 * A campaign: many seeds, each run (by default) twice to check determinism (D1), their
 * violations and exercise counters merged, and the blind-spot guard applied: a counter that the
 * batch's scenarios should have exercised but that stayed at zero fails the batch
 * (reliability.md §5.1). Failing seeds can be appended to the committed regression list, which
 * every campaign runs first.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Counters } from "./counters.js";
import { type DrawOptions, type PolicyName, type ScenarioId, type StoreKind, drawWorld } from "./scenarios.js";
import type { Violation } from "./violations.js";
import { type RunResult, runWorld } from "./world.js";

/** The committed regression list. */
export const REGRESSIONS_PATH = fileURLToPath(new URL("./regressions.json", import.meta.url));

/** One regression entry: a seed that once failed, with the options it failed under. */
export interface RegressionEntry {
  seed: number;
  policy: PolicyName;
  store: StoreKind;
  scenario?: ScenarioId;
  invariant: string;
  note: string;
}

/** What one seed gave. */
export interface SeedOutcome {
  seed: number;
  scenario: ScenarioId;
  policy: PolicyName;
  store: StoreKind;
  traceHash: string;
  /** `false` when the second run's trace differed (D1). */
  deterministic: boolean | undefined;
  failures: Violation[];
  measured: Violation[];
  convergenceMs: number | null;
  wallMs: number;
  counters: Counters;
  /** Network loss of the seed, basis points (for overhead-per-loss figures). */
  lossBp: number;
  peers: number;
}

/** A seed to run and how. */
export interface SeedPlan extends DrawOptions {
  seed: number;
}

/** Campaign options. */
export interface CampaignOptions {
  plans: SeedPlan[];
  /** Run each seed twice and compare trace hashes (D1). */
  twice: boolean;
  /** Called after every seed (progress). */
  onSeed?: (outcome: SeedOutcome, index: number) => void;
}

/** A whole campaign's result. */
export interface CampaignReport {
  outcomes: SeedOutcome[];
  counters: Counters;
  /** Counters that should have fired for the batch's scenarios but stayed at 0. */
  blindSpots: string[];
}

/** Runs one seed (twice when asked) and summarises it. */
export async function runSeed(plan: SeedPlan, twice: boolean, keepHistory = false, spillHistory?: boolean): Promise<SeedOutcome & { result: RunResult }> {
  const params = drawWorld(plan.seed, plan);
  const result = await runWorld(params, { keepHistory, spillHistory });
  let deterministic: boolean | undefined;
  if (twice) {
    const again = await runWorld(drawWorld(plan.seed, plan));
    deterministic = again.traceHash === result.traceHash;
  }
  const failures = result.violations.filter((violation) => !violation.measuredOnly);
  if (deterministic === false) {
    failures.push({ invariant: "D1", message: "the same seed gave a different trace hash", eventIndex: 0, atMs: 0, measuredOnly: false });
  }
  return {
    seed: plan.seed, scenario: params.scenario, policy: params.policy, store: params.store, traceHash: result.traceHash, deterministic,
    failures, measured: result.violations.filter((violation) => violation.measuredOnly), convergenceMs: result.convergenceMs,
    wallMs: result.wallMs, counters: result.counters, lossBp: params.network.lossBp, peers: params.peers, result,
  };
}

/**
 * Counters each scenario must exercise (when the batch ran at least 3 seeds of it), so a
 * generator that silently stopped producing a fault is caught. `swarm` alone is not relied on.
 */
const EXPECTED: Array<{ counter: string; scenarios: ScenarioId[]; policy?: PolicyName; store?: StoreKind }> = [
  { counter: "net.drop.loss", scenarios: ["F1"] },
  { counter: "net.reorder", scenarios: ["F2"] },
  { counter: "net.replay", scenarios: ["F3"] },
  { counter: "net.drop.partition", scenarios: ["F4", "F5"] },
  { counter: "net.heal", scenarios: ["F4"] },
  { counter: "net.drop.outage", scenarios: ["F6"] },
  { counter: "net.clog", scenarios: ["swarm"] },
  { counter: "net.drop.capacity", scenarios: ["swarm"] },
  { counter: "crash.idle", scenarios: ["F7"] },
  { counter: "crash.before-commit", scenarios: ["F7"] },
  { counter: "crash.after-commit", scenarios: ["F7"] },
  { counter: "crash.inside-delivery", scenarios: ["F7"] },
  { counter: "crash.before-tick-release", scenarios: ["F7", "F8"] },
  { counter: "crash.inside-transaction", scenarios: ["F7"], store: "sqlite" },
  { counter: "power.cut", scenarios: ["F7"], store: "memory" },
  { counter: "restart.ok", scenarios: ["F7", "F8"] },
  { counter: "store.fault.io.commit", scenarios: ["swarm"] },
  { counter: "store.fault.io.loadChannel", scenarios: ["swarm"] },
  { counter: "store.fault.E_STORE_FULL", scenarios: ["swarm"] },
  { counter: "store.fault.E_STORE_BUSY", scenarios: ["swarm"] },
  { counter: "store.deferred.E_STORE_IO", scenarios: ["swarm"], policy: "best-effort" },
  { counter: "clock.backward-jump", scenarios: ["F9"] },
  { counter: "wire.sync", scenarios: ["F0"] },
  { counter: "wire.resend", scenarios: ["F1"] },
  { counter: "wire.repair", scenarios: ["F8"] },
  { counter: "wire.with-repair-request", scenarios: ["F8"] },
  { counter: "engine.acknowledged.causalHistory", scenarios: ["F0"] },
  { counter: "engine.acknowledged.bloom", scenarios: ["F0"] },
  { counter: "engine.missing", scenarios: ["F2"] },
  { counter: "engine.lost", scenarios: ["F5"] },
  { counter: "engine.undelivered.resendsExhausted", scenarios: ["F5"] },
  { counter: "engine.evicted.history", scenarios: ["F11"] },
  { counter: "check.deliver.ephemeral", scenarios: ["F1"] },
  { counter: "engine.duplicate", scenarios: ["F3"] },
  { counter: "check.s8.sampled", scenarios: ["F0"], policy: "write-before-release" },
];

/** Which expected counters stayed at zero although the batch should have exercised them. */
export function findBlindSpots(outcomes: readonly SeedOutcome[], counters: Counters): string[] {
  const perScenario = new Map<string, number>();
  for (const outcome of outcomes) {
    const key = `${outcome.scenario}/${outcome.policy}/${outcome.store}`;
    perScenario.set(key, (perScenario.get(key) ?? 0) + 1);
  }
  const seedsOf = (scenario: ScenarioId, policy?: PolicyName, store?: StoreKind): number => {
    let total = 0;
    for (const [key, count] of perScenario) {
      const [s, p, k] = key.split("/");
      if (s === scenario && (policy === undefined || p === policy) && (store === undefined || k === store)) total += count;
    }
    return total;
  };
  const missing: string[] = [];
  for (const expectation of EXPECTED) {
    const seeds = expectation.scenarios.reduce((sum, scenario) => sum + seedsOf(scenario, expectation.policy, expectation.store), 0);
    if (seeds >= 3 && counters.get(expectation.counter) === 0) missing.push(`${expectation.counter} (expected from ${expectation.scenarios.join("/")}, ${seeds} seeds)`);
  }
  return missing;
}

/** Runs every plan in order and merges the results. */
export async function runCampaign(options: CampaignOptions): Promise<CampaignReport> {
  const outcomes: SeedOutcome[] = [];
  const counters = new Counters();
  for (const [index, plan] of options.plans.entries()) {
    const { result: _result, ...outcome } = await runSeed(plan, options.twice);
    outcomes.push(outcome);
    counters.merge(outcome.counters);
    options.onSeed?.(outcome, index);
  }
  return { outcomes, counters, blindSpots: findBlindSpots(outcomes, counters) };
}

/** Reads the regression list (empty when missing). */
export function readRegressions(path = REGRESSIONS_PATH): RegressionEntry[] {
  try {
    const parsed = JSON.parse(readFileSync(path, "utf8")) as { seeds?: RegressionEntry[] };
    return parsed.seeds ?? [];
  } catch {
    return [];
  }
}

/** Appends failing seeds not yet listed; returns how many were added. */
export function appendRegressions(outcomes: readonly SeedOutcome[], path = REGRESSIONS_PATH): number {
  const entries = readRegressions(path);
  const known = new Set(entries.map((entry) => `${entry.seed}/${entry.policy}/${entry.store}`));
  let added = 0;
  for (const outcome of outcomes) {
    if (outcome.failures.length === 0) continue;
    const id = `${outcome.seed}/${outcome.policy}/${outcome.store}`;
    if (known.has(id)) continue;
    known.add(id);
    const first = outcome.failures[0] as Violation;
    entries.push({ seed: outcome.seed, policy: outcome.policy, store: outcome.store, scenario: outcome.scenario, invariant: first.invariant, note: first.message.slice(0, 300) });
    added += 1;
  }
  if (added > 0) writeFileSync(path, `${JSON.stringify({ description: "Seeds that once failed; every campaign and the CI tier replay them.", seeds: entries }, null, 2)}\n`);
  return added;
}
