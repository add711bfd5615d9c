import { describe, expect, it } from "vitest";
import { BloomFilter, RollingBloomFilter } from "../../../../src/core/protocol/bloom/index.js";

describe("RollingBloomFilter (nim-sds cleaning rule)", () => {
  it("derives min/max capacity as nim does (±20 %, truncated)", () => {
    const rolling = new RollingBloomFilter();
    expect([rolling.capacity, rolling.minCapacity, rolling.maxCapacity]).toEqual([10000, 8000, 12000]);
    const odd = new RollingBloomFilter({ capacity: 7 });
    expect([odd.minCapacity, odd.maxCapacity]).toEqual([5, 8]);
  });

  it("cleans only past maxCapacity, keeping the most recent minCapacity ids in a filter of capacity maxCapacity", () => {
    const rolling = new RollingBloomFilter({ capacity: 100, errorRate: 0.01, dialect: "nim" });
    const ids = Array.from({ length: 121 }, (_, index) => `id-${index}`);
    for (const id of ids.slice(0, 120)) rolling.add(id);
    expect(rolling.messageIds.length).toBe(120);
    expect(rolling.filter.params.capacity).toBe(100);
    const before = rolling.filter;
    rolling.add(ids[120]!);
    expect(rolling.filter).not.toBe(before);
    expect(rolling.messageIds).toEqual(ids.slice(41));
    expect(rolling.filter.params).toEqual(new BloomFilter({ capacity: 120, errorRate: 0.01, dialect: "nim" }).params);
    const expected = new BloomFilter({ capacity: 120, errorRate: 0.01, dialect: "nim" });
    for (const id of ids.slice(41)) expected.add(id);
    expect(Buffer.from(rolling.toBytes("nim")).equals(Buffer.from(expected.toBytes("nim")))).toBe(true);
    for (const id of ids.slice(41)) expect(rolling.has(id)).toBe(true);
    expect(rolling.clean()).toBe(false);
  });

  it("default filter after the first clean: capacity 12000, 180000 bits, 22520 nim bytes", () => {
    const rolling = RollingBloomFilter.fromIds(Array.from({ length: 12001 }, (_, index) => `m${index}`), { dialect: "nim" });
    expect(rolling.messageIds.length).toBe(8000);
    expect(rolling.filter.params.mBits).toBe(180000);
    expect(rolling.filter.wordCount).toBe(2813);
    expect(rolling.toBytes("nim").length).toBe(22520);
    expect(rolling.toBytes("spec").length).toBe(22504);
  });

  it("stays bounded over many cleans", () => {
    const rolling = new RollingBloomFilter({ capacity: 10 });
    for (let index = 0; index < 1000; index++) {
      rolling.add(`x${index}`);
      expect(rolling.messageIds.length).toBeLessThanOrEqual(rolling.maxCapacity);
      expect(rolling.has(`x${index}`)).toBe(true);
    }
    expect(rolling.filter.params.capacity).toBe(12);
  });

  it("rejects invalid parameters instead of silently using defaults", () => {
    expect(() => new RollingBloomFilter({ capacity: 0 })).toThrow(expect.objectContaining({ code: "E_BLOOM_PARAMS" }));
    expect(() => new RollingBloomFilter({ errorRate: 2 })).toThrow(expect.objectContaining({ code: "E_BLOOM_PARAMS" }));
  });
});
