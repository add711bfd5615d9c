/**
 * Bloom filter sizing, identical in nim-sds (`initializeBloomFilter`) and js-waku
 * (`BloomFilter` constructor), plus the limits every filter — built locally or received
 * from the wire — must respect. Without k: bits per element = ceil(−ln p / ln² 2),
 * k = round(ln 2 · bits); with k: the false-positive table (or a forced bits per element).
 * m = capacity · bits per element; words = 1 + ⌊m / 64⌋ (one spare word, as both do).
 */
import { SdsError } from "../../errors.js";
import { mOverNBitsForK } from "./probabilities.js";

/** Capacity every SDS implementation defaults to (ids). */
export const DEFAULT_BLOOM_CAPACITY = 10_000;
/** False-positive rate every SDS implementation defaults to. */
export const DEFAULT_BLOOM_ERROR_RATE = 0.001;

/** Bounds on filter parameters; received filters outside them are rejected, not trusted. */
export interface BloomLimits {
  /** Most hash functions per id (k). Default 32. */
  kHashesMax: number;
  /** Most bits in a filter (m). Default 8,388,608 (1 MiB of words). */
  mBitsMax: number;
  /** Largest capacity (ids) a filter may declare. Default 1,000,000. */
  capacityMax: number;
}

/** Default {@link BloomLimits}: far above any real SDS filter (the default is 150,000 bits, k 10). */
export const DEFAULT_BLOOM_LIMITS: Readonly<BloomLimits> = Object.freeze({
  kHashesMax: 32,
  mBitsMax: 8_388_608,
  capacityMax: 1_000_000,
});

/** What a filter is sized from. */
export interface BloomSizingInput {
  /** Expected number of ids (≥ 1). */
  capacity: number;
  /** Target false-positive rate, 0 < errorRate < 1. */
  errorRate: number;
  /** Fixed number of hashes; 0 or absent = optimal for `errorRate`. */
  kHashes?: number;
  /** With `kHashes`: bits per element to use instead of the table lookup. */
  forceNBitsPerElem?: number;
}

/** The derived shape of a filter. */
export interface BloomSizing {
  kHashes: number;
  /** Bits per element (m / capacity). */
  nBitsPerElem: number;
  /** Number of addressable bits (m); indices are 0 … m−1. */
  mBits: number;
  /** 64-bit words stored and serialized: 1 + ⌊m / 64⌋. */
  wordCount: number;
}

/** 64-bit words a filter of `mBits` bits stores (nim and js both add one spare word). */
export function wordCountForBits(mBits: number): number {
  return 1 + Math.floor(mBits / 64);
}

function paramsError(message: string, details: Record<string, unknown>): SdsError {
  return new SdsError("E_BLOOM_PARAMS", message, details);
}

/**
 * Sizes a filter exactly as nim-sds and js-waku do, then checks the result against
 * `limits`. Throws `E_BLOOM_PARAMS` on a non-integer or out-of-range capacity, an error rate
 * outside (0, 1), an unusable k, or a filter larger than `limits.mBitsMax`.
 */
export function sizeBloomFilter(input: BloomSizingInput, limits: BloomLimits = DEFAULT_BLOOM_LIMITS): BloomSizing {
  const { capacity, errorRate } = input;
  const requestedK = input.kHashes ?? 0;
  const forced = input.forceNBitsPerElem ?? 0;
  if (!Number.isSafeInteger(capacity) || capacity < 1 || capacity > limits.capacityMax) {
    throw paramsError(`capacity must be an integer in 1..${limits.capacityMax} (got ${capacity})`, { capacity });
  }
  if (!(errorRate > 0 && errorRate < 1)) {
    throw paramsError(`errorRate must be in (0, 1) (got ${errorRate})`, { errorRate });
  }
  if (!Number.isInteger(requestedK) || requestedK < 0 || requestedK > limits.kHashesMax) {
    throw paramsError(`kHashes must be an integer in 0..${limits.kHashesMax} (got ${requestedK})`, { kHashes: requestedK });
  }
  if (!Number.isInteger(forced) || forced < 0) {
    throw paramsError(`forceNBitsPerElem must be a non-negative integer (got ${forced})`, { forceNBitsPerElem: forced });
  }
  let kHashes: number;
  let nBitsPerElem: number;
  if (requestedK < 1) {
    const bitsPerElem = Math.ceil(-Math.log(errorRate) / Math.LN2 ** 2);
    kHashes = Math.round(Math.LN2 * bitsPerElem);
    nBitsPerElem = bitsPerElem;
  } else {
    kHashes = requestedK;
    nBitsPerElem = forced >= 1 ? forced : mOverNBitsForK(requestedK, errorRate);
  }
  const mBits = capacity * nBitsPerElem;
  if (kHashes < 1 || kHashes > limits.kHashesMax) {
    throw paramsError(`error rate ${errorRate} needs k = ${kHashes}, outside 1..${limits.kHashesMax}`, { kHashes, errorRate });
  }
  if (mBits > limits.mBitsMax) {
    throw paramsError(`filter of ${mBits} bits exceeds mBitsMax ${limits.mBitsMax}`, { mBits, mBitsMax: limits.mBitsMax });
  }
  return { kHashes, nBitsPerElem, mBits, wordCount: wordCountForBits(mBits) };
}
