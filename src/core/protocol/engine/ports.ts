/**
 * The engine's view of the codecs, bloom filters, SDS-R timing and message ids, in one file
 * so the engine depends on narrow functions rather than on each module's whole API.
 * Performance matters here: the local filter caches its serialized bytes until the next
 * `add`, and a peer's spec-dialect filter is queried in place (no copy of its 18 KB).
 * nim-dialect local filters are `RollingBloomFilter`s, as in nim-sds.
 */
import { DecodeError } from "../../errors.js";
import { BloomFilter, RollingBloomFilter, wordCountForBits } from "../bloom/index.js";
import type { SdsConfig } from "../config.js";
import type { Dialect } from "../dialect.js";
import { hashPairModulo } from "../hash/index.js";
import type { DialectName, SdsMessage } from "../types.js";
import { DEFAULT_DECODE_LIMITS, decodeMessage, type DecodeLimits } from "../wire/index.js";
import { fastDecode, fastEncode, taggedEntry } from "./fast-codec.js";
export { taggedEntry };

/** The channel's own filter of seen ids. */
export interface LocalBloom {
  add(messageId: string): void;
  has(messageId: string): boolean;
  /** The dialect's wire bytes (valid until the next `add`; do not mutate or keep). */
  toBytes(): Uint8Array;
}

/** A peer's filter, read-only. */
export interface PeerBloom {
  has(messageId: string): boolean;
}

class CachedLocalBloom implements LocalBloom {
  private cached: Uint8Array | undefined;
  constructor(private readonly filter: BloomFilter | RollingBloomFilter, private readonly dialect: DialectName) {}
  add(messageId: string): void {
    this.filter.add(messageId);
    this.cached = undefined;
  }
  has(messageId: string): boolean {
    return this.filter.has(messageId);
  }
  toBytes(): Uint8Array {
    this.cached ??= this.filter.toBytes(this.dialect);
    return this.cached;
  }
}

/**
 * A spec-dialect filter kept directly in its wire layout (64-bit words, big-endian), so
 * `toBytes` costs nothing: the same bits BloomFilter would set, addressed in place.
 * `toBytes` returns the live buffer; it is valid until the next `add`.
 */
class SpecWireBloom implements LocalBloom {
  private readonly bytes: Uint8Array;
  private readonly mBits: number;
  private readonly kHashes: number;
  constructor(config: SdsConfig) {
    const shape = new BloomFilter({ capacity: config.bloomCapacity, errorRate: config.bloomErrorRate, hashFamily: "murmur3" }).params;
    this.mBits = shape.mBits;
    this.kHashes = shape.kHashes;
    this.bytes = new Uint8Array(wordCountForBits(shape.mBits) * 8);
  }
  add(messageId: string): void {
    const { mBits, kHashes, bytes } = this;
    hashPairModulo("murmur3", messageId, mBits, pair);
    const hashA = pair[0]!;
    const hashB = pair[1]!;
    for (let n = 0; n < kHashes; n++) {
      const index = (hashA + n * hashB) % mBits;
      const bit = index & 63;
      bytes[(index - bit) / 8 + 7 - (bit >>> 3)]! |= 1 << (bit & 7);
    }
  }
  has(messageId: string): boolean {
    return new SpecPeerBloom(this.bytes, this.mBits, this.kHashes).has(messageId);
  }
  toBytes(): Uint8Array {
    return this.bytes;
  }
}

/** The filter a new channel starts with. */
export function createLocalBloom(dialect: Dialect, config: SdsConfig): LocalBloom {
  const options = { capacity: config.bloomCapacity, errorRate: config.bloomErrorRate, hashFamily: dialect.bloomHashFamily };
  if (dialect.name === "nim") return new CachedLocalBloom(new RollingBloomFilter(options), "nim");
  return new SpecWireBloom(config);
}

const pair = new Float64Array(2);

/** A spec filter read in place: bit h is bit (h mod 64) of big-endian word ⌊h/64⌋. */
class SpecPeerBloom implements PeerBloom {
  constructor(private readonly bytes: Uint8Array, private readonly mBits: number, private readonly kHashes: number) {}
  has(messageId: string): boolean {
    const { mBits, kHashes, bytes } = this;
    hashPairModulo("murmur3", messageId, mBits, pair);
    const hashA = pair[0]!;
    const hashB = pair[1]!;
    for (let n = 0; n < kHashes; n++) {
      const index = (hashA + n * hashB) % mBits;
      const bit = index & 63;
      const byte = bytes[(index - bit) / 8 + 7 - (bit >>> 3)]!;
      if ((byte & (1 << (bit & 7))) === 0) return false;
    }
    return true;
  }
}

/** Shape of a spec-dialect filter under `config` (the receiver's parameters, as js-waku does). */
function specShape(config: SdsConfig): { mBits: number; kHashes: number; wordCount: number } {
  const probe = new BloomFilter({ capacity: config.bloomCapacity, errorRate: config.bloomErrorRate, hashFamily: "murmur3" });
  return { mBits: probe.params.mBits, kHashes: probe.params.kHashes, wordCount: wordCountForBits(probe.params.mBits) };
}
const shapeCache = new WeakMap<SdsConfig, { mBits: number; kHashes: number; wordCount: number }>();

/**
 * A peer's filter from its wire bytes, or `undefined` when they do not parse or do not fit
 * the parameters (spec: the exact length our parameters imply; nim: validated parameters).
 */
export function readPeerBloom(bytes: Uint8Array, dialect: Dialect, config: SdsConfig): PeerBloom | undefined {
  if (dialect.name === "spec") {
    let shape = shapeCache.get(config);
    if (shape === undefined) {
      shape = specShape(config);
      shapeCache.set(config, shape);
    }
    if (bytes.length !== shape.wordCount * 8) return undefined;
    return new SpecPeerBloom(bytes, shape.mBits, shape.kHashes);
  }
  try {
    return BloomFilter.fromBytes(bytes, { dialect: "nim", hashFamily: dialect.bloomHashFamily });
  } catch (error) {
    if (error instanceof DecodeError) return undefined;
    throw error;
  }
}

/** Encodes `message` in the dialect (byte-identical to `encodeMessage`, faster). */
export function encodeWire(message: SdsMessage, dialect: DialectName, encodedCausalHistory?: Uint8Array): Uint8Array {
  return fastEncode(message, dialect, encodedCausalHistory);
}

/** Decodes `bytes` in the dialect with the engine's limits (fast path, reference decoder for anything unusual). Throws `DecodeError`. */
export function decodeWire(bytes: Uint8Array, dialect: DialectName, config: SdsConfig): SdsMessage {
  let limits = limitsCache.get(config);
  if (limits === undefined) {
    limits = { ...DEFAULT_DECODE_LIMITS, wireBytesMax: config.wireBytesMax, contentBytesMax: Math.max(DEFAULT_DECODE_LIMITS.contentBytesMax, config.contentBytesMax) };
    limitsCache.set(config, limits);
  }
  return fastDecode(bytes, dialect, limits) ?? decodeMessage(bytes, { dialect, limits });
}
const limitsCache = new WeakMap<SdsConfig, DecodeLimits>();
