/**
 * Power loss in the simulator: the journal keeps synced and unsynced writes apart; a cut under
 * `full` sync loses nothing, under `lazy` sync it loses the unsynced tail. In seeded worlds (F7,
 * memory store) a write-before-release peer that loses power forgets nothing it released, while
 * best-effort loses writes and the simulator measures the cost instead of failing.
 */
import { describe, expect, it } from "vitest";
import type { ChannelDelta } from "../../src/core/store/contract.js";
import { runSeed } from "./campaign.js";
import { Counters } from "./counters.js";
import { PowerJournal } from "./power-loss.js";

function lamportDelta(lamport: bigint): ChannelDelta {
  const none = { upsert: [], remove: [] };
  return { channelId: "power", lamportTimestamp: lamport, outgoing: none, incoming: none, outgoingRepair: none, incomingRepair: none, history: { append: [], evict: [] }, retrievalHints: [] };
}

async function lamportAfterCut(mode: "full" | "lazy"): Promise<bigint | undefined> {
  const counters = new Counters();
  const journal = new PowerJournal(mode, 3, counters, "memory");
  for (const lamport of [1n, 2n, 3n, 4n, 5n]) journal.record((target) => target.commit([lamportDelta(lamport)]));
  const disk = await journal.cut();
  const loaded = await disk.loadChannel("power");
  return loaded.ok ? loaded.value?.meta.lamportTimestamp : undefined;
}

describe("power loss", () => {
  it("full sync keeps every write; lazy sync keeps only what was synced", async () => {
    expect(await lamportAfterCut("full")).toBe(5n);
    expect(await lamportAfterCut("lazy")).toBe(3n);
  });

  it("F7 worlds: write-before-release loses nothing it released; best-effort's losses are measured", async () => {
    const totals = { full: new Counters(), lazy: new Counters() };
    for (const [policy, counters] of [["write-before-release", totals.full], ["best-effort", totals.lazy]] as const) {
      for (const seed of [2, 4, 6, 8, 10, 12]) {
        const outcome = await runSeed({ seed, policy, store: "memory", scenario: "F7" }, false);
        const safety = outcome.failures.filter((failure) => failure.invariant.startsWith("S"));
        expect(safety.map((failure) => `${policy} seed ${seed}: ${failure.invariant} ${failure.message}`)).toEqual([]);
        if (policy === "write-before-release") expect(outcome.failures.map((failure) => failure.invariant)).toEqual([]);
        counters.merge(outcome.counters);
      }
    }
    expect(totals.full.get("power.cut")).toBeGreaterThan(0);
    expect(totals.full.get("power.lost-writes.full")).toBe(0);
    expect(totals.full.get("amnesia.write-before-release")).toBe(0);
    expect(totals.lazy.get("power.cut")).toBeGreaterThan(0);
    expect(totals.lazy.get("power.lost-writes.lazy")).toBeGreaterThan(0);
    process.stderr.write(`power loss, best-effort: ${totals.lazy.get("power.cut")} cuts lost ${totals.lazy.get("power.lost-writes.lazy")} writes; amnesia ${totals.lazy.get("amnesia.best-effort")}, duplicates after restart ${totals.lazy.get("check.duplicate-after-restart.best-effort")}\n`);
  }, 120_000);
});
