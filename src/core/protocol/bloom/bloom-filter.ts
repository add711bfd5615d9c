/**
 * The SDS bloom filter: k = `kHashes` indices per id by double hashing (`hashPairModulo`),
 * bits stored as 64-bit words like nim-sds and js-waku (bit h lives in word ⌊h/64⌋, bit
 * h mod 64). The words are kept as bytes in the spec wire layout (big-endian words), so
 * `add`/`has` touch no BigInt and allocate nothing, and spec (de)serialization is a copy. Parameters are fixed
 * at construction; the byte layouts per dialect live in `./codec.ts`.
 */
import { assert } from "../../assert.js";
import { SdsError } from "../../errors.js";
import type { DialectName } from "../types.js";
import { BLOOM_HASH_FAMILIES, hashPairModulo, type BloomHashFamily } from "../hash/index.js";
import {
  DEFAULT_BLOOM_CAPACITY,
  DEFAULT_BLOOM_ERROR_RATE,
  DEFAULT_BLOOM_LIMITS,
  sizeBloomFilter,
  wordCountForBits,
  type BloomLimits,
} from "./sizing.js";
import { decodeNimBloom, decodeSpecWords, encodeNimBloom, encodeSpecWords } from "./codec.js";

/** The identity of a filter: two filters can only be compared or merged when these match. */
export interface BloomFilterParams {
  /** Ids the filter was sized for. */
  readonly capacity: number;
  /** Target false-positive rate at `capacity` ids. */
  readonly errorRate: number;
  /** Indices set per id (k). */
  readonly kHashes: number;
  /** Addressable bits (m); indices are 0 … m−1. */
  readonly mBits: number;
  /** Which `hash(string)` maps ids to indices. */
  readonly hashFamily: BloomHashFamily;
}

/** How to build a fresh filter; every field has the SDS default. */
export interface BloomFilterOptions {
  /** Ids the filter is sized for (default 10,000). */
  capacity?: number;
  /** Target false-positive rate (default 0.001). */
  errorRate?: number;
  /** Fixed k (0/absent = optimal for `errorRate`, as both implementations do by default). */
  kHashes?: number;
  /** With `kHashes`: bits per element instead of the table lookup. */
  forceNBitsPerElem?: number;
  /** Hash family; defaults from `dialect` (spec → murmur3, nim → farmhash64). */
  hashFamily?: BloomHashFamily;
  /** Dialect whose default hash family to use when `hashFamily` is absent (default spec). */
  dialect?: DialectName;
  /** Bounds the parameters must respect (default {@link DEFAULT_BLOOM_LIMITS}). */
  limits?: BloomLimits;
}

/** How to read a filter received from the wire (see {@link BloomFilter.fromBytes}). */
export interface BloomFromBytesOptions {
  /** Framing of the bytes. */
  dialect: DialectName;
  /** spec only: the receiver's capacity (default 10,000). */
  capacity?: number;
  /** spec only: the receiver's error rate (default 0.001). */
  errorRate?: number;
  /** spec only: the receiver's fixed k, if any. */
  kHashes?: number;
  /** spec only: forced bits per element with `kHashes`. */
  forceNBitsPerElem?: number;
  /** Hash family (default from `dialect`). */
  hashFamily?: BloomHashFamily;
  /** Bounds the received parameters must respect (default {@link DEFAULT_BLOOM_LIMITS}). */
  limits?: BloomLimits;
  /** Field name for errors (default "bloomFilter"). */
  field?: string;
  /** Absolute offset of the bytes in the outer input, for errors (default 0). */
  baseOffset?: number;
}

/** The hash family a dialect's peers use: `spec` → murmur3 (js-waku), `nim` → farmhash64. */
export function defaultHashFamily(dialect: DialectName): BloomHashFamily {
  return dialect === "nim" ? "farmhash64" : "murmur3";
}

/** Scratch for the (hashA, hashB) pair; filters are used synchronously, one call at a time. */
const pairScratch = new Float64Array(2);

/** A bloom filter of message ids with the SDS (nim-sds / js-waku) bit layout. */
export class BloomFilter {
  /** The filter's fixed parameters. */
  readonly params: BloomFilterParams;
  /** The words, each 8 bytes big-endian: bit h is byte `(h >>> 3) ^ 7`, mask `1 << (h & 7)`. */
  private readonly bits: Uint8Array;

  /**
   * Builds an empty filter sized from `options` (throws `E_BLOOM_PARAMS` on bad options).
   * `restored` is for codecs and `clone`: already validated parameters and their bit bytes
   * (spec layout: 8 bytes per word, big-endian), taken as they are, not copied.
   */
  constructor(options: BloomFilterOptions = {}, restored?: { params: BloomFilterParams; bits: Uint8Array }) {
    if (restored !== undefined) {
      const { params, bits } = restored;
      assert(Number.isSafeInteger(params.mBits) && params.mBits >= 1, "bloom mBits must be a positive integer");
      assert(Number.isInteger(params.kHashes) && params.kHashes >= 1, "bloom kHashes must be a positive integer");
      assert(bits.length === wordCountForBits(params.mBits) * 8, "bloom word count must be 1 + mBits div 64");
      assert(bits.byteOffset % 4 === 0, "bloom bit bytes must be 4-byte aligned");
      this.params = Object.freeze({ ...params });
      this.bits = bits;
      return;
    }
    const hashFamily = options.hashFamily ?? defaultHashFamily(options.dialect ?? "spec");
    if (!BLOOM_HASH_FAMILIES.includes(hashFamily)) {
      throw new SdsError("E_BLOOM_PARAMS", `unknown bloom hash family ${String(hashFamily)}`, { hashFamily });
    }
    const capacity = options.capacity ?? DEFAULT_BLOOM_CAPACITY;
    const errorRate = options.errorRate ?? DEFAULT_BLOOM_ERROR_RATE;
    const sizing = sizeBloomFilter(
      { capacity, errorRate, kHashes: options.kHashes ?? 0, forceNBitsPerElem: options.forceNBitsPerElem ?? 0 },
      options.limits ?? DEFAULT_BLOOM_LIMITS,
    );
    this.params = Object.freeze({ capacity, errorRate, kHashes: sizing.kHashes, mBits: sizing.mBits, hashFamily });
    this.bits = new Uint8Array(sizing.wordCount * 8);
  }

  /**
   * Serializes the bits for `dialect`: `spec` = the words big-endian, no parameters
   * (default filter: 18,752 bytes); `nim` = nim-sds's nested protobuf with little-endian
   * words and the parameters (default filter: 18,768 bytes).
   */
  toBytes(dialect: DialectName): Uint8Array {
    if (dialect === "spec") return encodeSpecWords(this.bits);
    const { capacity, errorRate, kHashes, mBits } = this.params;
    return encodeNimBloom({ capacity, errorRateMicros: Math.trunc(errorRate * 1_000_000), kHashes, mBits, bits: this.bits });
  }

  /**
   * Reads a filter received from a peer. `spec`: the bytes carry no parameters, so the
   * receiver's (`capacity`, `errorRate`, `kHashes`; SDS defaults) are applied and the length
   * must match them exactly. `nim`: the parameters come from the bytes and are validated
   * against `limits` before use. Hash family defaults from the dialect. Every failure is a
   * `DecodeError` (`E_BLOOM_PARAMS`, `E_DECODE_*`) naming the field and byte offset.
   */
  static fromBytes(bytes: Uint8Array, options: BloomFromBytesOptions): BloomFilter {
    const limits = options.limits ?? DEFAULT_BLOOM_LIMITS;
    const hashFamily = options.hashFamily ?? defaultHashFamily(options.dialect);
    if (!BLOOM_HASH_FAMILIES.includes(hashFamily)) {
      throw new SdsError("E_BLOOM_PARAMS", `unknown bloom hash family ${String(hashFamily)}`, { hashFamily });
    }
    const location = { field: options.field ?? "bloomFilter", baseOffset: options.baseOffset ?? 0 };
    if (options.dialect === "spec") {
      const capacity = options.capacity ?? DEFAULT_BLOOM_CAPACITY;
      const errorRate = options.errorRate ?? DEFAULT_BLOOM_ERROR_RATE;
      const sizing = sizeBloomFilter({ capacity, errorRate, kHashes: options.kHashes ?? 0, forceNBitsPerElem: options.forceNBitsPerElem ?? 0 }, limits);
      const bits = decodeSpecWords(bytes, sizing.wordCount, location);
      return new BloomFilter({}, { params: { capacity, errorRate, kHashes: sizing.kHashes, mBits: sizing.mBits, hashFamily }, bits });
    }
    const fields = decodeNimBloom(bytes, limits, location);
    const params: BloomFilterParams = {
      capacity: fields.capacity,
      errorRate: fields.errorRateMicros / 1_000_000,
      kHashes: fields.kHashes,
      mBits: fields.mBits,
      hashFamily,
    };
    return new BloomFilter({}, { params, bits: fields.bits });
  }

  /** Number of 64-bit words stored and serialized (1 + ⌊mBits / 64⌋). */
  get wordCount(): number {
    return this.bits.length >>> 3;
  }

  /** Number of bits currently set (a fill indicator: ≈ m·(1 − e^(−kn/m)) after n ids). */
  get bitCount(): number {
    let count = 0;
    const words = new Uint32Array(this.bits.buffer, this.bits.byteOffset, this.bits.length >>> 2);
    for (let index = 0; index < words.length; index++) {
      let value = words[index]!;
      value -= (value >>> 1) & 0x55555555;
      value = (value & 0x33333333) + ((value >>> 2) & 0x33333333);
      count += (Math.imul((value + (value >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
    }
    return count;
  }

  /** Inserts `id`: sets its k bits. Never fails; idempotent. */
  add(id: string): void {
    const { mBits, kHashes, hashFamily } = this.params;
    hashPairModulo(hashFamily, id, mBits, pairScratch);
    const hashA = pairScratch[0]!;
    const hashB = pairScratch[1]!;
    const bits = this.bits;
    for (let n = 0; n < kHashes; n++) {
      const index = (hashA + n * hashB) % mBits;
      bits[(index >>> 3) ^ 7] |= 1 << (index & 7);
    }
  }

  /**
   * True when all k bits of `id` are set: certainly true for every added id, and true for
   * an id never added with probability ≈ `errorRate` at `capacity` ids.
   */
  has(id: string): boolean {
    const { mBits, kHashes, hashFamily } = this.params;
    hashPairModulo(hashFamily, id, mBits, pairScratch);
    const hashA = pairScratch[0]!;
    const hashB = pairScratch[1]!;
    const bits = this.bits;
    for (let n = 0; n < kHashes; n++) {
      const index = (hashA + n * hashB) % mBits;
      if ((bits[(index >>> 3) ^ 7]! & (1 << (index & 7))) === 0) return false;
    }
    return true;
  }

  /** The k bit indices of `id`, in hash order (for inspection and tests). */
  indicesOf(id: string): number[] {
    const { mBits, kHashes, hashFamily } = this.params;
    hashPairModulo(hashFamily, id, mBits, pairScratch);
    const hashA = pairScratch[0]!;
    const hashB = pairScratch[1]!;
    return Array.from({ length: kHashes }, (_, n) => (hashA + n * hashB) % mBits);
  }

  /** An independent copy with the same parameters and bits. */
  clone(): BloomFilter {
    return new BloomFilter({}, { params: this.params, bits: this.bits.slice() });
  }

  /** Sets every bit to 0, keeping the parameters. */
  clear(): void {
    this.bits.fill(0);
  }

  /** Word `index` as an unsigned 64-bit value (0 ≤ index < wordCount). */
  word(index: number): bigint {
    assert(Number.isInteger(index) && index >= 0 && index < this.wordCount, "bloom word index out of range");
    return new DataView(this.bits.buffer, this.bits.byteOffset + index * 8, 8).getBigUint64(0, false);
  }

  /** True when bit `bitIndex` (0 ≤ bitIndex < mBits) is set. */
  isBitSet(bitIndex: number): boolean {
    assert(Number.isInteger(bitIndex) && bitIndex >= 0 && bitIndex < this.params.mBits, "bloom bit index out of range");
    return (this.bits[(bitIndex >>> 3) ^ 7]! & (1 << (bitIndex & 7))) !== 0;
  }

  /** True when `other` has the same parameters (so its bits mean the same ids). */
  sameShape(other: BloomFilter): boolean {
    const a = this.params;
    const b = other.params;
    return a.mBits === b.mBits && a.kHashes === b.kHashes && a.hashFamily === b.hashFamily;
  }
}
