/**
 * CI tier of the deterministic simulator (reliability.md §5.9 T1): the committed regression
 * seeds plus 300 swarm seeds, each run twice (D1: the same seed must give the same trace hash),
 * under write-before-release, mostly on the memory store with every 15th seed on SQLite files;
 * plus a best-effort batch whose sender amnesia and duplicate deliveries are measured, not failed.
 * A batch also fails when an exercise counter its scenarios should have fired stayed at zero.
 *
 * Seeds start at SDS_SIM_BASE (default 1000); SDS_SIM_SEEDS overrides the count. Replay a
 * failure with the command printed next to it.
 */
import { describe, expect, it } from "vitest";
import { type SeedPlan, readRegressions, runCampaign } from "./campaign.js";
import { describeFailures, plans } from "./ci-tier.js";

const BASE = Number(process.env.SDS_SIM_BASE ?? 1000);
const SEEDS = Number(process.env.SDS_SIM_SEEDS ?? 300);
/** This file runs the first half; sim-second-half.test.ts the rest, so two vitest workers share the tier. */
const HALF = Math.ceil(SEEDS / 2);

describe("deterministic simulator, CI tier", () => {
  it(`regression seeds and ${HALF} of ${SEEDS} swarm seeds from ${BASE} hold every invariant, twice each (write-before-release)`, async () => {
    const regressions: SeedPlan[] = readRegressions().map((entry) => ({ seed: entry.seed, policy: entry.policy, store: entry.store, scenario: entry.scenario }));
    process.stderr.write(`sim CI tier: ${regressions.length} regression seeds + ${HALF} seeds from base ${BASE} (SDS_SIM_BASE)\n`);
    const report = await runCampaign({ plans: [...regressions, ...plans(HALF, BASE, "write-before-release", 15)], twice: true });
    const failures = describeFailures(report.outcomes);
    expect(report.outcomes.filter((outcome) => outcome.deterministic === false).map((outcome) => outcome.seed), "D1: seeds whose two runs differed").toEqual([]);
    expect(failures, "seeds that violated an invariant").toEqual([]);
    expect(report.blindSpots, "exercise counters that stayed at zero").toEqual([]);
    // Under write-before-release nothing is forgotten and nothing is delivered twice after a restart.
    expect(report.counters.get("amnesia.write-before-release")).toBe(0);
    expect(report.counters.get("crash.after-commit") + report.counters.get("crash.before-commit")).toBeGreaterThan(0);
  }, 600_000);

  it("best-effort policy: safety holds apart from the measured amnesia and duplicates, twice each", async () => {
    const report = await runCampaign({ plans: plans(Math.max(14, Math.floor(SEEDS / 10)), BASE + 500_000, "best-effort", 1_000), twice: true });
    expect(report.outcomes.filter((outcome) => outcome.deterministic === false).map((outcome) => outcome.seed)).toEqual([]);
    const safety = report.outcomes.flatMap((outcome) => outcome.failures.filter((failure) => failure.invariant.startsWith("S")).map((failure) => `seed ${outcome.seed}: ${failure.invariant} ${failure.message}`));
    expect(safety, "safety violations other than the policy's measured ones").toEqual([]);
    process.stderr.write(`best-effort measured: amnesia ${report.counters.get("amnesia.best-effort")}, duplicates after restart ${report.counters.get("check.duplicate-after-restart.best-effort")}, deferred commits ${report.counters.get("store.deferred.E_STORE_IO")}\n`);
  }, 600_000);
});
