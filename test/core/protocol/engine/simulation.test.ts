/**
 * A seeded multi-peer simulation (reliability.md §5.2 S1, S2, L1): 3–5 peers on a virtual
 * network that loses, reorders and duplicates messages, then heals. Every peer must end with
 * every message delivered exactly once, each after all of its causal dependencies. The seed is
 * printed; `SDS_SEED=<n>` replays one run.
 */
import { describe, expect, it } from "vitest";
import { simulate } from "./sim-harness.js";
import { testSeed } from "./support.js";

describe("seeded multi-peer simulation: loss, reorder, duplication", () => {
  for (const dialect of ["spec", "nim"] as const) {
    it(`reaches full delivery in causal order with no duplicates (${dialect})`, async () => {
      const base = testSeed(`simulation ${dialect}`);
      const runs = Number(process.env.SDS_SIM_RUNS ?? (process.env.SDS_SEED ? 1 : 2));
      for (let run = 0; run < runs; run++) {
        const seed = base + run;
        const report = await simulate(seed, dialect);
        expect(report.violations, `seed ${seed}`).toEqual([]);
        expect(report.drops, `seed ${seed}: the network must actually lose messages`).toBeGreaterThan(0);
        expect(report.deliveries).toBeGreaterThan(0);
      }
    }, 120_000);
  }

  it("survives restarts (write-before-release, state from the store) with the same guarantees (spec)", async () => {
    const base = testSeed("simulation with restarts");
    const runs = Number(process.env.SDS_SIM_RUNS ?? (process.env.SDS_SEED ? 1 : 2));
    let restarts = 0;
    for (let run = 0; run < runs; run++) {
      const seed = base + run;
      const report = await simulate(seed, "spec", { restarts: true });
      expect(report.violations, `seed ${seed}`).toEqual([]);
      restarts += report.restarts;
    }
    expect(restarts, "the runs must actually restart peers").toBeGreaterThan(0);
  }, 120_000);
});
