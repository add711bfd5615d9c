/**
 * Seeded, splittable pseudo-random generator for the deterministic simulator.
 *
 * sfc32 (Chris Doty-Humphrey's Small Fast Counting generator, 128-bit state) seeded through
 * splitmix32 mixing. Every random choice of a simulation flows from one `SimRandom(seed)`; a
 * component that needs its own stream calls `split(label)`, so adding a draw in one component
 * does not shift the draws of another. Fault decisions use integer ratios (`chance(bp)` in basis
 * points), never float comparisons, as TigerBeetle's PRNG does (reliability.md §1.2).
 */

/** Basis points: 10_000 = 100 %. */
export const BASIS_POINTS = 10_000;

/** splitmix32 step: mixes a 32-bit value into a well-distributed 32-bit value. */
function mix32(value: number): number {
  let z = (value + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** FNV-1a over the UTF-16 code units of `text`, used to turn labels and string seeds into words. */
export function hashLabel(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index += 1) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** A deterministic random stream. Same seed → same sequence, on every run and machine. */
export class SimRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  /** The seed word this stream started from; `split` derives from it, not from the state. */
  private readonly origin: number;

  /** `seed` is any 32-bit unsigned number or a string (hashed). */
  constructor(seed: number | string) {
    const word = typeof seed === "string" ? hashLabel(seed) : seed >>> 0;
    this.origin = word;
    this.a = mix32(word);
    this.b = mix32(this.a ^ 0x6a09e667);
    this.c = mix32(this.b ^ 0xbb67ae85);
    this.d = mix32(this.c ^ 0x3c6ef372) | 1;
    for (let warm = 0; warm < 12; warm += 1) this.u32();
  }

  /** Next uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform integer in [0, bound), without modulo bias. `bound` ≥ 1 and ≤ 2^32. */
  int(bound: number): number {
    if (!Number.isInteger(bound) || bound < 1) throw new RangeError(`int bound must be a positive integer, got ${bound}`);
    if (bound === 1) return 0;
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % bound);
    for (;;) {
      const value = this.u32();
      if (value < limit) return value % bound;
    }
  }

  /** Uniform integer in [min, max] (both inclusive). */
  range(min: number, max: number): number {
    if (max < min) throw new RangeError(`range max ${max} < min ${min}`);
    return min + this.int(max - min + 1);
  }

  /** True with probability `basisPoints` / 10 000 (integer ratio, no float compare). */
  chance(basisPoints: number): boolean {
    if (basisPoints <= 0) return false;
    if (basisPoints >= BASIS_POINTS) return true;
    return this.int(BASIS_POINTS) < basisPoints;
  }

  /** True with probability `numerator` / `denominator`. */
  ratio(numerator: number, denominator: number): boolean {
    return this.int(denominator) < numerator;
  }

  /** Uniform float in [0, 1) with 32 bits of precision; injected as the engine's `random`. */
  float(): number {
    return this.u32() / 0x1_0000_0000;
  }

  /**
   * Exponentially distributed integer with the given mean (milliseconds, say), capped at
   * 20 × mean so one draw cannot stall a run. Uses `Math.log`, which is deterministic for the
   * same input on one platform.
   */
  exponential(mean: number): number {
    if (mean <= 0) return 0;
    const uniform = (this.u32() + 1) / 0x1_0000_0001;
    return Math.min(Math.round(-Math.log(uniform) * mean), mean * 20);
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("pick from an empty array");
    return items[this.int(items.length)] as T;
  }

  /** A shuffled copy (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const copy = [...items];
    for (let index = copy.length - 1; index > 0; index -= 1) {
      const other = this.int(index + 1);
      const held = copy[index] as T;
      copy[index] = copy[other] as T;
      copy[other] = held;
    }
    return copy;
  }

  /**
   * An independent stream named `label`. It depends only on this stream's seed and the label,
   * never on how many draws were made, so components stay decoupled.
   */
  split(label: string): SimRandom {
    return new SimRandom((mix32(this.origin ^ 0x5bd1e995) ^ hashLabel(label)) >>> 0);
  }
}
