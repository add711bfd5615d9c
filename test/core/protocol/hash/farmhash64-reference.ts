/**
 * Test oracle: a straightforward BigInt port of FarmHash64 (`na::Hash64`), the first
 * implementation of this project, kept to cross-check the fast 32-bit-halves version in
 * src/core/protocol/hash/farmhash64.ts on random inputs of every length.
 */

const MASK64 = (1n << 64n) - 1n;
const K0 = 0xc3a5c85c97cb3127n;
const K1 = 0xb492b66fbe98f273n;
const K2 = 0x9ae16a3b2f90404fn;
const SEED = 81n;

const wrap = (value: bigint): bigint => value & MASK64;
const multiply = (a: bigint, b: bigint): bigint => (a * b) & MASK64;
const add = (a: bigint, b: bigint): bigint => (a + b) & MASK64;

/** Rotates a 64-bit value right by `shift` (1…63) bits. */
function rotate(value: bigint, shift: bigint): bigint {
  return ((value >> shift) | (value << (64n - shift))) & MASK64;
}

function shiftMix(value: bigint): bigint {
  return value ^ (value >> 47n);
}

/** Little-endian 64-bit load at `offset`. */
function fetch64(bytes: Uint8Array, offset: number): bigint {
  const low = (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 24)) >>> 0;
  const high =
    (bytes[offset + 4]! | (bytes[offset + 5]! << 8) | (bytes[offset + 6]! << 16) | (bytes[offset + 7]! << 24)) >>> 0;
  return (BigInt(high) << 32n) | BigInt(low);
}

/** Little-endian 32-bit load at `offset`. */
function fetch32(bytes: Uint8Array, offset: number): bigint {
  return BigInt((bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 24)) >>> 0);
}

function hashLen16(u: bigint, v: bigint, mul: bigint): bigint {
  let a = multiply(u ^ v, mul);
  a ^= a >> 47n;
  let b = multiply(v ^ a, mul);
  b ^= b >> 47n;
  return multiply(b, mul);
}

function hashLen0to16(bytes: Uint8Array, length: number): bigint {
  if (length >= 8) {
    const mul = add(K2, BigInt(length * 2));
    const a = add(fetch64(bytes, 0), K2);
    const b = fetch64(bytes, length - 8);
    const c = add(multiply(rotate(b, 37n), mul), a);
    const d = multiply(add(rotate(a, 25n), b), mul);
    return hashLen16(c, d, mul);
  }
  if (length >= 4) {
    const mul = add(K2, BigInt(length * 2));
    const a = fetch32(bytes, 0);
    return hashLen16(BigInt(length) + (a << 3n), fetch32(bytes, length - 4), mul);
  }
  if (length > 0) {
    const y = BigInt(bytes[0]! + (bytes[length >> 1]! << 8));
    const z = BigInt(length + (bytes[length - 1]! << 2));
    return multiply(shiftMix(multiply(y, K2) ^ multiply(z, K0)), K2);
  }
  return K2;
}

function hashLen17to32(bytes: Uint8Array, length: number): bigint {
  const mul = add(K2, BigInt(length * 2));
  const a = multiply(fetch64(bytes, 0), K1);
  const b = fetch64(bytes, 8);
  const c = multiply(fetch64(bytes, length - 8), mul);
  const d = multiply(fetch64(bytes, length - 16), K2);
  return hashLen16(
    add(add(rotate(add(a, b), 43n), rotate(c, 30n)), d),
    add(add(a, rotate(add(b, K2), 18n)), c),
    mul,
  );
}

function hashLen33to64(bytes: Uint8Array, length: number): bigint {
  const mul = add(K2, BigInt(length * 2));
  const a = multiply(fetch64(bytes, 0), K2);
  const b = fetch64(bytes, 8);
  const c = multiply(fetch64(bytes, length - 8), mul);
  const d = multiply(fetch64(bytes, length - 16), K2);
  const y = add(add(rotate(add(a, b), 43n), rotate(c, 30n)), d);
  const z = hashLen16(y, add(add(a, rotate(add(b, K2), 18n)), c), mul);
  const e = multiply(fetch64(bytes, 16), mul);
  const f = fetch64(bytes, 24);
  const g = multiply(add(y, fetch64(bytes, length - 32)), mul);
  const h = multiply(add(z, fetch64(bytes, length - 24)), mul);
  return hashLen16(add(add(rotate(add(e, f), 43n), rotate(g, 30n)), h), add(add(e, rotate(add(f, a), 18n)), g), mul);
}

/** The (first, second) pair of `WeakHashLen32WithSeeds` over the 32 bytes at `offset`. */
function weakHashLen32WithSeeds(bytes: Uint8Array, offset: number, seedA: bigint, seedB: bigint): [bigint, bigint] {
  const w = fetch64(bytes, offset);
  const x = fetch64(bytes, offset + 8);
  const y = fetch64(bytes, offset + 16);
  const z = fetch64(bytes, offset + 24);
  let a = add(seedA, w);
  let b = rotate(add(add(seedB, a), z), 21n);
  const c = a;
  a = add(add(a, x), y);
  b = add(b, rotate(a, 44n));
  return [add(a, z), add(b, c)];
}

/** The > 64-byte path: 64-byte blocks, then the last 64 bytes with a length-dependent multiplier. */
function hashLongerThan64(bytes: Uint8Array, length: number): bigint {
  let x = SEED;
  let y = wrap(SEED * K1 + 113n);
  let z = multiply(shiftMix(wrap(y * K2 + 113n)), K2);
  let v: [bigint, bigint] = [0n, 0n];
  let w: [bigint, bigint] = [0n, 0n];
  x = add(multiply(x, K2), fetch64(bytes, 0));
  const end = Math.floor((length - 1) / 64) * 64;
  const last64 = end + ((length - 1) & 63) - 63;
  let offset = 0;
  do {
    x = multiply(rotate(wrap(x + y + v[0] + fetch64(bytes, offset + 8)), 37n), K1);
    y = multiply(rotate(wrap(y + v[1] + fetch64(bytes, offset + 48)), 42n), K1);
    x ^= w[1];
    y = wrap(y + v[0] + fetch64(bytes, offset + 40));
    z = multiply(rotate(add(z, w[0]), 33n), K1);
    v = weakHashLen32WithSeeds(bytes, offset, multiply(v[1], K1), add(x, w[0]));
    w = weakHashLen32WithSeeds(bytes, offset + 32, add(z, w[1]), add(y, fetch64(bytes, offset + 16)));
    [z, x] = [x, z];
    offset += 64;
  } while (offset !== end);
  const mul = add(K1, (z & 0xffn) << 1n);
  offset = last64;
  w[0] = add(w[0], BigInt((length - 1) & 63));
  v[0] = add(v[0], w[0]);
  w[0] = add(w[0], v[0]);
  x = multiply(rotate(wrap(x + y + v[0] + fetch64(bytes, offset + 8)), 37n), mul);
  y = multiply(rotate(wrap(y + v[1] + fetch64(bytes, offset + 48)), 42n), mul);
  x ^= multiply(w[1], 9n);
  y = wrap(y + v[0] * 9n + fetch64(bytes, offset + 40));
  z = multiply(rotate(add(z, w[0]), 33n), mul);
  v = weakHashLen32WithSeeds(bytes, offset, multiply(v[1], mul), add(x, w[0]));
  w = weakHashLen32WithSeeds(bytes, offset + 32, add(z, w[1]), add(y, fetch64(bytes, offset + 16)));
  [z, x] = [x, z];
  return hashLen16(
    wrap(hashLen16(v[0], w[0], mul) + multiply(shiftMix(y), K0) + z),
    add(hashLen16(v[1], w[1], mul), x),
    mul,
  );
}

/**
 * FarmHash64 (`na::Hash64` = `Fingerprint64`) of `bytes[0..length)`, unsigned 0 … 2⁶⁴−1.
 * `length` defaults to the whole array, so a reusable scratch buffer can be hashed in place.
 */
export function farmHash64(bytes: Uint8Array, length: number = bytes.length): bigint {
  if (length <= 16) return hashLen0to16(bytes, length);
  if (length <= 32) return hashLen17to32(bytes, length);
  if (length <= 64) return hashLen33to64(bytes, length);
  return hashLongerThan64(bytes, length);
}

const encoder = new TextEncoder();

/**
 * Nim ≥ 2.2 `hash(string)` on a 64-bit target: FarmHash64 of the UTF-8 bytes of `text`,
 * reinterpreted as a signed int64 (−2⁶³ … 2⁶³−1). `nimHash("") = -7286425919675154353`.
 */
export function nimHash(text: string): bigint {
  return BigInt.asIntN(64, farmHash64(encoder.encode(text)));
}
