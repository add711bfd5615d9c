import { describe, expect, it } from "vitest";
import type { ChannelData } from "../../../src/core/store/contract.js";
import { FaultyPersistence, seededRandom } from "../../../src/core/store/faulty.js";
import { MemoryPersistence } from "../../../src/core/store/memory.js";
import { emptyDelta } from "./fixtures.js";

const seed = Number(process.env.SDS_SEED ?? 1234);

describe("FaultyPersistence", () => {
  it("fails chosen ops (nim failingOps) without touching the store when the write is lost", async () => {
    const inner = new MemoryPersistence();
    const store = new FaultyPersistence(inner, { failingOps: ["commit"] });
    const result = await store.commit([emptyDelta("c", 5n)]);
    expect(!result.ok && result.error.code).toBe("E_STORE_IO");
    expect(store.injected).toEqual([{ op: "commit", call: 1, outcome: "lost" }]);
    const loaded = await inner.loadChannel("c");
    expect(loaded.ok && loaded.value).toBeUndefined();
    expect((await store.loadChannel("c")).ok).toBe(true);
  });

  it("applies the write and still reports failure with outcome 'applied'", async () => {
    const inner = new MemoryPersistence();
    const store = new FaultyPersistence(inner, { failCalls: [2], outcome: "applied", code: "E_STORE_BUSY" });
    expect((await store.commit([emptyDelta("c", 1n)])).ok).toBe(true);
    const second = await store.commit([emptyDelta("c", 2n)]);
    expect(!second.ok && second.error.code).toBe("E_STORE_BUSY");
    const loaded = await inner.loadChannel("c");
    expect(loaded.ok && (loaded.value as ChannelData).meta.lamportTimestamp).toBe(2n);
  });

  it("fails from the Nth counted call on (persistent) until healed", async () => {
    const store = new FaultyPersistence(new MemoryPersistence(), { failFromCall: 3, countedOps: ["commit"] });
    const outcomes: boolean[] = [];
    for (let i = 1; i <= 5; i++) {
      await store.loadChannel("c"); // not counted
      outcomes.push((await store.commit([emptyDelta("c", BigInt(i))])).ok);
    }
    expect(outcomes).toEqual([true, true, false, false, false]);
    store.heal();
    expect((await store.commit([emptyDelta("c", 9n)])).ok).toBe(true);
  });

  it("fails with a seeded probability, reproducibly (seed printed)", async () => {
    console.log(`FaultyPersistence probability test seed=${seed}`);
    const run = async () => {
      const store = new FaultyPersistence(new MemoryPersistence(), { probability: 0.3, seed });
      const out: boolean[] = [];
      for (let i = 0; i < 200; i++) out.push((await store.commit([emptyDelta("c", BigInt(i))])).ok);
      return out;
    };
    const first = await run();
    expect(await run()).toEqual(first);
    const failures = first.filter((ok) => !ok).length;
    expect(failures).toBeGreaterThan(20);
    expect(failures).toBeLessThan(120);
  });

  it("has a uniform-looking PRNG in [0, 1)", () => {
    const random = seededRandom(7);
    const values = Array.from({ length: 1000 }, random);
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
    expect(new Set(values).size).toBe(1000);
  });
});
