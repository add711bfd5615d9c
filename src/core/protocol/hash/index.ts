/**
 * The two bloom-filter hash families and the Kirsch–Mitzenmacher double hashing both SDS
 * implementations build on (research/sds-protocol.md §2.1–2.2). `murmur3` is what js-waku
 * (`spec` dialect) computes, `farmhash64` what nim-sds built with Nim ≥ 2.2 computes; the
 * same id sets different bits under each, so the family is part of a filter's identity.
 */
import { assert } from "../../assert.js";
import { farmHash64AbsModulo, nimHash } from "./farmhash64.js";
import { murmur3Hash, murmur3HashPair } from "./murmur3.js";

export { farmHash64, farmHash64AbsModulo, nimHash } from "./farmhash64.js";
export { murmur3Hash } from "./murmur3.js";

/** Which `hash(string)` a bloom filter uses: js-waku's Murmur or Nim ≥ 2.2's FarmHash64. */
export type BloomHashFamily = "murmur3" | "farmhash64";

/** The hash families, for validation and `--help` listings. */
export const BLOOM_HASH_FAMILIES: readonly BloomHashFamily[] = ["murmur3", "farmhash64"];

/**
 * `hash(s)` as the family's Nim build returns it, signed: a 32-bit value for `murmur3`,
 * a 64-bit value for `farmhash64`.
 */
export function hashString(family: BloomHashFamily, text: string): bigint {
  return family === "murmur3" ? BigInt(murmur3Hash(text)) : nimHash(text);
}

const encoder = new TextEncoder();
/** Largest UTF-8 scratch kept between calls (bytes); longer ids use a temporary buffer. */
const scratchBytesMax = 4096;
let utf8Scratch = new Uint8Array(256);

function farmHashPair(text: string, modulus: number, out: Float64Array): void {
  const bytesNeeded = text.length * 3 + 2;
  let buffer = utf8Scratch;
  if (bytesNeeded > buffer.length) {
    buffer = new Uint8Array(bytesNeeded);
    if (bytesNeeded <= scratchBytesMax) utf8Scratch = buffer;
  }
  const { written } = encoder.encodeInto(text, buffer);
  out[0] = farmHash64AbsModulo(buffer, written, modulus);
  buffer[written] = 0x20;
  buffer[written + 1] = 0x62;
  out[1] = farmHash64AbsModulo(buffer, written + 2, modulus);
}

/**
 * The double-hashing base of `item` for a filter of `modulus` bits, written into `out`:
 * `out[0] = hashA = |hash(item)| mod modulus`, `out[1] = hashB = |hash(item & " b")| mod modulus`.
 * Index `n` is then `(hashA + n·hashB) mod modulus`. One call replaces k `hashN` calls;
 * it allocates nothing for ids up to 4 KiB (murmur) / ~1.3 K characters (farmhash).
 */
export function hashPairModulo(family: BloomHashFamily, item: string, modulus: number, out: Float64Array): void {
  assert(Number.isSafeInteger(modulus) && modulus > 0, "hash modulus must be a positive safe integer");
  if (family === "murmur3") {
    murmur3HashPair(item, out);
    out[0] = Math.abs(out[0]!) % modulus;
    out[1] = Math.abs(out[1]!) % modulus;
    return;
  }
  farmHashPair(item, modulus, out);
}

const pairScratch = new Float64Array(2);

/**
 * Nim's `hashN(item, n, maxValue)`: the `n`-th of a bloom filter's k indices,
 * `abs(hashA + n·hashB) mod maxValue` (Kirsch & Mitzenmacher 2008). 0 ≤ result < maxValue.
 */
export function hashN(family: BloomHashFamily, item: string, n: number, maxValue: number): number {
  assert(Number.isSafeInteger(n) && n >= 0, "hashN index must be a non-negative integer");
  hashPairModulo(family, item, maxValue, pairScratch);
  return (pairScratch[0]! + n * pairScratch[1]!) % maxValue;
}
