/**
 * nim-sds's rolling bloom filter (`sds/rolling_bloom_filter.nim`): a bloom filter that
 * remembers the ids it was given and, once more than `maxCapacity` (capacity · 1.2) have been
 * added, rebuilds itself with capacity `maxCapacity` from the most recent `minCapacity`
 * (capacity · 0.8) ids, so it never saturates. js-waku has no such rule (its filter fills up
 * after ~10,000 ids); we use this one for both dialects. Memory: at most `maxCapacity` ids.
 */
import { SdsError } from "../../errors.js";
import type { DialectName } from "../types.js";
import type { BloomHashFamily } from "../hash/index.js";
import { BloomFilter, defaultHashFamily } from "./bloom-filter.js";
import { DEFAULT_BLOOM_CAPACITY, DEFAULT_BLOOM_ERROR_RATE, DEFAULT_BLOOM_LIMITS, type BloomLimits } from "./sizing.js";

/** How far (percent) the id count may swing around the capacity: nim's `CapacityFlexPercent`. */
export const CAPACITY_FLEX_PERCENT = 20;

/** Options of a {@link RollingBloomFilter}; all default to the SDS defaults. */
export interface RollingBloomFilterOptions {
  /** Nominal capacity (ids, default 10,000). */
  capacity?: number;
  /** Target false-positive rate (default 0.001). */
  errorRate?: number;
  /** Hash family (default from `dialect`). */
  hashFamily?: BloomHashFamily;
  /** Dialect whose hash family to default to (default spec). */
  dialect?: DialectName;
  /** Parameter bounds (default {@link DEFAULT_BLOOM_LIMITS}). */
  limits?: BloomLimits;
}

/** A bloom filter over the most recent ids, cleaned by nim-sds's rule. */
export class RollingBloomFilter {
  /** Nominal capacity the filter was created with. */
  readonly capacity: number;
  /** Ids kept after a clean: ⌊capacity · 0.8⌋. */
  readonly minCapacity: number;
  /** Ids that trigger a clean when exceeded: ⌊capacity · 1.2⌋; also the rebuilt filter's capacity. */
  readonly maxCapacity: number;
  private readonly errorRate: number;
  private readonly hashFamily: BloomHashFamily;
  private readonly limits: BloomLimits;
  private current: BloomFilter;
  /** Ids added since the last clean, oldest first (at most maxCapacity + 1 at any time). */
  private ids: string[] = [];

  /**
   * Creates an empty rolling filter. Unlike nim-sds, which silently falls back to the
   * defaults, an invalid capacity or error rate is a typed `E_BLOOM_PARAMS` error.
   */
  constructor(options: RollingBloomFilterOptions = {}) {
    this.capacity = options.capacity ?? DEFAULT_BLOOM_CAPACITY;
    this.errorRate = options.errorRate ?? DEFAULT_BLOOM_ERROR_RATE;
    this.hashFamily = options.hashFamily ?? defaultHashFamily(options.dialect ?? "spec");
    this.limits = options.limits ?? DEFAULT_BLOOM_LIMITS;
    if (!Number.isSafeInteger(this.capacity) || this.capacity < 1) {
      throw new SdsError("E_BLOOM_PARAMS", `rolling bloom capacity must be a positive integer (got ${this.capacity})`, { capacity: this.capacity });
    }
    this.minCapacity = Math.trunc((this.capacity * (100 - CAPACITY_FLEX_PERCENT)) / 100);
    this.maxCapacity = Math.trunc((this.capacity * (100 + CAPACITY_FLEX_PERCENT)) / 100);
    this.current = this.newFilter(this.capacity);
    // Validate the post-clean shape now, so a clean can never fail later.
    this.newFilter(this.maxCapacity);
  }

  private newFilter(capacity: number): BloomFilter {
    return new BloomFilter({ capacity, errorRate: this.errorRate, hashFamily: this.hashFamily, limits: this.limits });
  }

  /** The filter as it stands (what goes on the wire); replaced, not mutated, by a clean. */
  get filter(): BloomFilter {
    return this.current;
  }

  /** Ids remembered since the last clean, oldest first. */
  get messageIds(): readonly string[] {
    return this.ids;
  }

  /** Adds `id`; cleans when more than `maxCapacity` ids are remembered. */
  add(id: string): void {
    this.current.add(id);
    this.ids.push(id);
    if (this.ids.length > this.maxCapacity) this.clean();
  }

  /** True when `id` may have been added (no false negatives for ids kept since the last clean). */
  has(id: string): boolean {
    return this.current.has(id);
  }

  /**
   * nim's `clean`: a no-op until more than `maxCapacity` ids are remembered; then a new filter
   * with capacity `maxCapacity` holding only the most recent `minCapacity` ids. Returns true
   * when it rebuilt.
   */
  clean(): boolean {
    if (this.ids.length <= this.maxCapacity) return false;
    const kept = this.ids.slice(Math.max(0, this.ids.length - this.minCapacity));
    const rebuilt = this.newFilter(this.maxCapacity);
    for (const id of kept) rebuilt.add(id);
    this.ids = kept;
    this.current = rebuilt;
    return true;
  }

  /** Rebuilds from `ids` (oldest first), e.g. from persisted history at start-up. */
  static fromIds(ids: Iterable<string>, options: RollingBloomFilterOptions = {}): RollingBloomFilter {
    const filter = new RollingBloomFilter(options);
    for (const id of ids) filter.add(id);
    return filter;
  }

  /** Serializes the current filter for `dialect` (see {@link BloomFilter.toBytes}). */
  toBytes(dialect: DialectName): Uint8Array {
    return this.current.toBytes(dialect);
  }
}
