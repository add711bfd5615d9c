/**
 * F14, the differential run (reliability.md §5.4): seeded worlds where one or two peers are
 * @waku/sds 0.0.8 MessageChannels and the rest run our engine, exchanging spec-dialect bytes over
 * the simulated lossy, reordering, duplicating network. Every invariant holds for our peers;
 * the reference's own findings (delivery before a buffered dependency, one-shot repair) are
 * measured, not failed, and each seed must replay to the same trace (D1).
 * SDS_SIM_F14_SEEDS overrides the seed count (default 8, from 1).
 */
import { describe, expect, it } from "vitest";
import { runSeed } from "./campaign.js";
import { describeFailures } from "./ci-tier.js";

const SEEDS = Number(process.env.SDS_SIM_F14_SEEDS ?? 8);

describe("F14: @waku/sds peers beside ours in the simulator", () => {
  it(`${SEEDS} seeds: deliveries cross both ways, our peers hold every invariant, twice each`, async () => {
    let ourFromWaku = 0;
    let wakuFromOurs = 0;
    for (let seed = 1; seed <= SEEDS; seed += 1) {
      const outcome = await runSeed({ seed, policy: "write-before-release", store: "memory", scenario: "F14" }, true, true);
      expect(outcome.deterministic, `seed ${seed}: D1`).toBe(true);
      expect(describeFailures([outcome]), `seed ${seed}`).toEqual([]);
      const waku = new Set(outcome.result.params.wakuPeers);
      expect(waku.size).toBeGreaterThan(0);
      outcome.result.history?.forEachFrom(0, (event) => {
        if (event.k !== "deliver") return;
        if (waku.has(event.sender) && !waku.has(event.peer)) ourFromWaku += 1;
        if (!waku.has(event.sender) && waku.has(event.peer)) wakuFromOurs += 1;
      });
    }
    process.stderr.write(`F14: ${ourFromWaku} deliveries at our peers of @waku/sds messages, ${wakuFromOurs} the other way\n`);
    expect(ourFromWaku).toBeGreaterThan(0);
    expect(wakuFromOurs).toBeGreaterThan(0);
  }, 300_000);
});
