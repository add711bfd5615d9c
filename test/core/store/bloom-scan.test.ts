/**
 * The WebAssembly scan of changed filter words must give exactly what the plain JavaScript
 * `wordsChangedSince` gives on word-aligned copies, for any lengths (not multiples of 16 or
 * of 4), any changes (first and last words included), and whichever filter its memory still
 * holds (tokens reused across calls, interleaved senders, a length change).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { alignedCopy, wordsChangedSince } from "../../../src/core/store/bloom-diff.js";
import { changedWordsSince, scansWithWebAssembly } from "../../../src/core/store/bloom-scan.js";

const seed = Number(process.env.SDS_SEED ?? Date.now() % 1_000_000);

function reference(previous: Uint8Array, next: Uint8Array): number[] {
  return wordsChangedSince(alignedCopy(previous, undefined), alignedCopy(next, undefined));
}

/** `base` with the bytes at `positions` (mod its length) xor-ed with `value`. */
function mutate(base: Uint8Array, positions: readonly number[], value: number): Uint8Array {
  const out = base.slice();
  for (const position of positions) if (out.length > 0) out[position % out.length] = (out[position % out.length] as number) ^ value;
  return out;
}

describe(`changedWordsSince (seed ${seed})`, () => {
  it("runs the WebAssembly scan on this Node (so the properties below test it, not the fallback)", () => {
    expect(scansWithWebAssembly()).toBe(true);
  });

  it("equals wordsChangedSince for any length and any changed bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.array(fc.nat(), { maxLength: 20 }), fc.integer({ min: 1, max: 255 }), (previous, positions, value) => {
        const next = mutate(previous, positions, value);
        expect(changedWordsSince(previous, {}, next, {})).toEqual(reference(previous, next));
      }),
      { seed, numRuns: 400 },
    );
  });

  it("finds the first and the last word of a spec-sized filter, and nothing in an unchanged one", () => {
    const previous = new Uint8Array(18_752).map((_, i) => (i * 131) & 0xff);
    const next = mutate(previous, [0, 18_751, 9_000], 0x80);
    expect(changedWordsSince(previous, {}, next, {})).toEqual([0, 2_250, 4_687]);
    expect(changedWordsSince(next, {}, next.slice(), {})).toEqual([]);
  });

  it("compares with the right previous filter whichever one its memory holds", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: 2 }), fc.array(fc.nat(), { maxLength: 6 })), { minLength: 1, maxLength: 40 }), fc.constantFrom(64, 100, 18_752), (steps, length) => {
        // three senders, each with its last filter and the token it was compared under
        const senders = [0, 1, 2].map((sender) => ({ filter: new Uint8Array(length).fill(sender * 17 + 1), token: {} as object }));
        for (const [sender, positions] of steps) {
          const state = senders[sender] as { filter: Uint8Array; token: object };
          const next = mutate(state.filter, positions, 0x41);
          const token = {};
          expect(changedWordsSince(state.filter, state.token, next, token)).toEqual(reference(state.filter, next));
          state.filter = next;
          state.token = token;
        }
      }),
      { seed: seed + 1, numRuns: 150 },
    );
  });
});
