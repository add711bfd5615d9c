/**
 * The streamed history (F13 soak in bounded memory): a run whose history is spilled to a file,
 * with only a tiny tail kept in memory so every checker and liveness probe reads the file back,
 * must give the same trace hash, violations and counters as the in-memory run of the same seed.
 * The soak's peak RSS is a recorded figure (docs/reliability.md), not asserted here.
 */
import { describe, expect, it } from "vitest";
import { drawWorld } from "./scenarios.js";
import { runWorld } from "./world.js";

const SEEDS = [1003, 1007, 1013];

describe("spilled history", () => {
  it.each(SEEDS)("seed %i: spilled to a file with a 64-event tail, the run is identical to the in-memory one", async (seed) => {
    const plan = { policy: "write-before-release" as const, store: "memory" as const };
    const inMemory = await runWorld(drawWorld(seed, plan), { spillHistory: false });
    const spilled = await runWorld(drawWorld(seed, plan), { spillHistory: true, spillTailEventsMax: 64, keepHistory: true });
    expect(spilled.traceHash).toBe(inMemory.traceHash);
    expect(spilled.violations).toEqual(inMemory.violations);
    expect(spilled.counters.toJSON()).toEqual(inMemory.counters.toJSON());
    expect(spilled.history?.length).toBe(inMemory.counters.get("run.events"));
    expect(() => spilled.history?.events).toThrow(/spilled/);
    const lines: string[] = spilled.history?.window(5, 2) ?? [];
    expect(lines).toHaveLength(5);
    expect(lines[2]).toMatch(/^>> #5 /);
    spilled.history?.dispose();
  }, 60_000);
});
