/**
 * Second half of the simulator's CI tier (see sim.test.ts): seeds BASE + ⌈N/2⌉ … BASE + N − 1,
 * each twice, so the tier's 300 seeds run on two vitest workers.
 */
import { describe, expect, it } from "vitest";
import { runCampaign } from "./campaign.js";
import { describeFailures, plans } from "./ci-tier.js";

const BASE = Number(process.env.SDS_SIM_BASE ?? 1000);
const SEEDS = Number(process.env.SDS_SIM_SEEDS ?? 300);
const HALF = Math.ceil(SEEDS / 2);

describe("deterministic simulator, CI tier (second half)", () => {
  it(`${SEEDS - HALF} more swarm seeds hold every invariant, twice each (write-before-release)`, async () => {
    const second = plans(SEEDS - HALF, BASE + HALF, "write-before-release", 15);
    const report = await runCampaign({ plans: second, twice: true });
    expect(report.outcomes.filter((outcome) => outcome.deterministic === false).map((outcome) => outcome.seed), "D1").toEqual([]);
    expect(describeFailures(report.outcomes), "seeds that violated an invariant").toEqual([]);
    expect(report.blindSpots, "exercise counters that stayed at zero").toEqual([]);
    expect(report.counters.get("amnesia.write-before-release")).toBe(0);
  }, 600_000);
});
