import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HashIndex } from "../../../src/core/relay/hash-index.js";
import { testSeed } from "./seed.js";

describe("HashIndex", () => {
  it("matches a Map over random adds and deletes, with keys forced to collide and the table growing", () => {
    const seed = testSeed("hash index model");
    fc.assert(
      fc.property(
        // Few distinct keys: long probe runs, deletions inside them, and wrap-around at the table's end.
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.record({ add: fc.boolean(), hash: fc.nat(199) }), { minLength: 1, maxLength: 800, size: "max" }),
        (distinctKeys, operations) => {
          // The first 32 bytes (where the key is read) depend only on the hash number's group; the
          // last two tell the hashes of a group apart, so a group's hashes share one key.
          const hashOf = (number: number) => Uint8Array.of(...new Uint8Array(32).fill(number % distinctKeys), number, number >> 8);
          const hashes = new Map<number, Uint8Array>(); // value → its hash
          const index = new HashIndex((value, hash) => Buffer.compare(hashes.get(value) as Uint8Array, hash) === 0);
          const model = new Map<number, { value: number; key: number }>(); // hash number → indexed value
          let nextValue = 0;
          for (const operation of operations) {
            const hash = hashOf(operation.hash);
            const held = model.get(operation.hash);
            expect(index.get(hash)).toBe(held?.value ?? -1);
            if (operation.add && held === undefined) {
              const value = nextValue++;
              hashes.set(value, hash);
              const key = index.keyOf(hash, 0, hash.length);
              index.add(key, value);
              model.set(operation.hash, { value, key });
            } else if (!operation.add && held !== undefined) {
              index.delete(held.key, held.value);
              model.delete(operation.hash);
            }
            expect(index.size).toBe(model.size);
          }
          for (let number = 0; number < 200; number++) expect(index.get(hashOf(number))).toBe(model.get(number)?.value ?? -1);
          index.clear();
          expect(index.size).toBe(0);
          for (const number of model.keys()) expect(index.get(hashOf(number))).toBe(-1);
        },
      ),
      { seed, numRuns: 200, endOnFailure: true },
    );
  }, 30_000);

  it("keys a hash by four of its bytes, and a hash shorter than four bytes by all of them", () => {
    const index = new HashIndex(() => false);
    const hash = Uint8Array.from({ length: 32 }, (_, at) => at * 7 + 1);
    const key = index.keyOf(hash, 0, 32);
    expect(key).toBeGreaterThanOrEqual(0);
    expect(key).toBeLessThan(2 ** 30);
    // The same bytes anywhere in a larger array give the same key.
    const shifted = new Uint8Array(40);
    shifted.set(hash, 5);
    expect(index.keyOf(shifted, 5, 32)).toBe(key);
    const short = [new Uint8Array(0), Uint8Array.of(0), Uint8Array.of(0, 0), Uint8Array.of(1), Uint8Array.of(1, 0)].map((bytes) => index.keyOf(bytes, 0, bytes.length));
    expect(new Set(short).size).toBe(short.length);
  });
});
