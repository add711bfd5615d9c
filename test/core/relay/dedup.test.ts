import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SeenHashes } from "../../../src/core/relay/dedup.js";
import { testSeed } from "./seed.js";

describe("SeenHashes", () => {
  it("answers like a least-recently-seen list of entriesMax pairs, far past its bound", () => {
    const seed = testSeed("seen hashes model");
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.array(fc.record({ topic: fc.nat(1), hash: fc.nat(40) }), { maxLength: 600, size: "max" }), (entriesMax, adds) => {
        const seen = new SeenHashes(entriesMax);
        const model: string[] = []; // oldest first
        for (const { topic, hash } of adds) {
          const key = `${topic}:${hash}`;
          const at = model.indexOf(key);
          expect(seen.add(`/a/1/t${topic}/p`, hash.toString(16).padStart(64, "0"))).toBe(at < 0);
          if (at >= 0) model.splice(at, 1);
          model.push(key);
          if (model.length > entriesMax) model.shift();
          expect(seen.size).toBe(model.length);
        }
      }),
      { seed, numRuns: 200, endOnFailure: true },
    );
  });
});
