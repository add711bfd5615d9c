/**
 * Small deterministic helpers the relay needs to enforce limits and inject faults: a token
 * bucket with an injected clock (per-connection rate limit), a seeded PRNG (mulberry32) and
 * the test-only fault injector that drops or duplicates deliveries with given probabilities.
 * No clocks or global randomness here: callers pass `nowMs` and seeds.
 */
import { seededRandom } from "../random.js";

/** Token bucket: `ratePerSecond` tokens per second up to `burst`; starts full. */
export class TokenBucket {
  private tokens: number;
  private lastMs: number;

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    private readonly nowMs: () => number,
  ) {
    this.tokens = burst;
    this.lastMs = nowMs();
  }

  /** Takes one token if available. Infinite rates always succeed. */
  take(): boolean {
    if (!Number.isFinite(this.ratePerSecond)) return true;
    const now = this.nowMs();
    const elapsedMs = Math.max(0, now - this.lastMs);
    this.lastMs = now;
    this.tokens = Math.min(this.burst, this.tokens + (elapsedMs * this.ratePerSecond) / 1000);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** Re-exported where it was first defined, for existing importers. */
export { seededRandom };

/** Test-only lossy-link settings: each live delivery is dropped or duplicated independently. */
export interface FaultOptions {
  /** Probability in [0, 1] that a delivery to one subscriber is dropped. */
  dropRate: number;
  /** Probability in [0, 1] that a (not dropped) delivery is sent twice. */
  duplicateRate: number;
  /** PRNG seed; the same seed and the same traffic give the same faults. */
  seed: number;
}

/** How many copies of a delivery to send: 0 (dropped), 1, or 2 (duplicated). */
export type FaultDecider = () => 0 | 1 | 2;

/**
 * Builds the per-delivery fault decision.
 * @throws RangeError for rates outside [0, 1] (a caller bug; the command validates flags).
 */
export function faultDecider(options: FaultOptions | undefined): FaultDecider {
  if (options === undefined || (options.dropRate === 0 && options.duplicateRate === 0)) return () => 1;
  for (const [name, rate] of [["dropRate", options.dropRate], ["duplicateRate", options.duplicateRate]] as const) {
    if (!(rate >= 0 && rate <= 1)) throw new RangeError(`${name} ${rate} is not in [0, 1]`);
  }
  const random = seededRandom(options.seed);
  return () => {
    if (random() < options.dropRate) return 0;
    return random() < options.duplicateRate ? 2 : 1;
  };
}
