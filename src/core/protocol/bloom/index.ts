/**
 * Bloom filters for SDS acknowledgement: sizing, the false-positive table, the filter,
 * its two wire framings and nim-sds's rolling filter. See docs/bloom.md.
 */
export { BloomFilter, defaultHashFamily, type BloomFilterOptions, type BloomFilterParams, type BloomFromBytesOptions } from "./bloom-filter.js";
export { RollingBloomFilter, CAPACITY_FLEX_PERCENT, type RollingBloomFilterOptions } from "./rolling-bloom-filter.js";
export {
  DEFAULT_BLOOM_CAPACITY,
  DEFAULT_BLOOM_ERROR_RATE,
  DEFAULT_BLOOM_LIMITS,
  sizeBloomFilter,
  wordCountForBits,
  type BloomLimits,
  type BloomSizing,
  type BloomSizingInput,
} from "./sizing.js";
export { FALSE_POSITIVE_RATES, mOverNBitsForK, TABLE_K_MAX } from "./probabilities.js";
export { decodeNimBloom, decodeSpecWords, encodeNimBloom, encodeSpecWords, type BloomBytesLocation, type NimBloomFields } from "./codec.js";
