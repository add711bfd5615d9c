/**
 * Helpers shared by the two files of the simulator's CI tier (sim.test.ts and
 * sim-second-half.test.ts): seed plans and a readable failure list with replay commands.
 */
import type { SeedOutcome, SeedPlan } from "./campaign.js";
import type { PolicyName } from "./scenarios.js";

/** `count` seeds from `base` under `policy`; every `sqliteEvery`-th seed on SQLite files. */
export function plans(count: number, base: number, policy: PolicyName, sqliteEvery: number): SeedPlan[] {
  return Array.from({ length: count }, (_, index) => ({
    seed: base + index, policy, store: index % sqliteEvery === sqliteEvery - 1 ? "sqlite" as const : "memory" as const,
  }));
}

/** One line per failing seed, with the command that replays it. */
export function describeFailures(outcomes: readonly SeedOutcome[]): string[] {
  return outcomes.filter((outcome) => outcome.failures.length > 0).map((outcome) => {
    const first = outcome.failures[0];
    return `seed ${outcome.seed} (${outcome.scenario}, ${outcome.policy}, ${outcome.store}): ${first?.invariant} ${first?.message}\n    replay: npm run sim -- --seed ${outcome.seed} --policy ${outcome.policy} --store ${outcome.store}`;
  });
}

