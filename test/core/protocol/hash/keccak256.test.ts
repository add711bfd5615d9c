/**
 * Our Keccak-256 against @noble/hashes' keccak_256 (the reference): a known vector, every
 * length around the 136-byte block boundary, and random inputs of up to four blocks.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { keccak256 } from "../../../../src/core/protocol/hash/keccak256.js";

const SEED = Number(process.env.SDS_SEED ?? Date.now() % 1_000_000);
console.log(`keccak256.test seed ${SEED} (set SDS_SEED to replay)`);

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

describe("keccak256", () => {
  it("hashes the empty input to the published Keccak-256 value (not SHA3-256's)", () => {
    expect(hex(keccak256(new Uint8Array(0)))).toBe("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
    expect(hex(keccak256(new TextEncoder().encode("abc")))).toBe("4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
  });

  it("matches the reference for every length from 0 to 3 blocks + 1 byte", () => {
    for (let length = 0; length <= 3 * 136 + 1; length++) {
      const input = Uint8Array.from({ length }, (_, index) => (index * 131 + length * 7) & 0xff);
      expect(hex(keccak256(input)), `length ${length}`).toBe(hex(keccak_256(input)));
    }
  });

  it("matches the reference on random inputs and returns a fresh digest each call", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4 * 136 + 7 }), (input) => {
        const digest = keccak256(input);
        expect(hex(digest)).toBe(hex(keccak_256(input)));
        expect(keccak256(input)).not.toBe(digest);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});
