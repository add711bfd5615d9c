/**
 * FarmHash64 — farmhash `na::Hash64`, which equals `Fingerprint64` — as Nim ≥ 2.2 uses it
 * for `hash(string)` (`std/hashes`, no `nimStringHash2`), hence as nim-sds hashes bloom ids
 * and SDS-R keys. Written from the reference algorithm (length classes 0–16, 17–32, 33–64
 * and the 64-byte loop with seed 81, little-endian loads); NOT the `farmhash-modern` npm
 * variant, which differs for lengths that are multiples of 64 above 64. For speed, 64-bit
 * values are (high, low) int32 pairs (small integers to V8: never boxed) and each primitive leaves its result in the module
 * registers `rh`/`rl`: no BigInt and no allocation per hash.
 */

const K0H = 0xc3a5c85c | 0, K0L = 0x97cb3127 | 0;
const K1H = 0xb492b66f | 0, K1L = 0xbe98f273 | 0;
const K2H = 0x9ae16a3b | 0, K2L = 0x2f90404f | 0;
const TWO_32 = 4294967296;

/** Result registers of the primitives below (high and low 32 bits, as int32). */
let rh = 0;
let rl = 0;
/** Second-pair registers of `weakHashLen32WithSeeds`. */
let sh = 0;
let sl = 0;

/** High 32 bits of the 64-bit product of two uint32 values. */
function mulHigh32(a: number, b: number): number {
  const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
  const t = a1 * b0 + ((a0 * b0) >>> 16);
  const w1 = a0 * b1 + (t & 0xffff);
  return (a1 * b1 + Math.floor(t / 65536) + Math.floor(w1 / 65536)) | 0;
}

/** (rh, rl) = a · b mod 2⁶⁴. */
function mul(ah: number, al: number, bh: number, bl: number): void {
  rl = Math.imul(al, bl) | 0;
  rh = (mulHigh32(al, bl) + Math.imul(ah, bl) + Math.imul(al, bh)) | 0;
}

/** (rh, rl) = a + b mod 2⁶⁴. */
function add(ah: number, al: number, bh: number, bl: number): void {
  const low = (al >>> 0) + (bl >>> 0);
  rl = low | 0;
  rh = (ah + bh + (low >= TWO_32 ? 1 : 0)) | 0;
}

/** (rh, rl) = a rotated right by `shift` (1…63) bits. */
function rotate(h: number, l: number, shift: number): void {
  if (shift >= 32) {
    const swap = h;
    h = l;
    l = swap;
    shift -= 32;
  }
  if (shift === 0) {
    rh = h;
    rl = l;
    return;
  }
  rl = ((l >>> shift) | (h << (32 - shift))) | 0;
  rh = ((h >>> shift) | (l << (32 - shift))) | 0;
}

/** Little-endian uint32 at `offset`. */
function fetch32(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 24)) | 0;
}

/** (rh, rl) = little-endian uint64 at `offset`. */
function fetch64(bytes: Uint8Array, offset: number): void {
  rl = fetch32(bytes, offset);
  rh = fetch32(bytes, offset + 4);
}

/** (rh, rl) = farmhash `HashLen16(u, v, mul)`. */
function hashLen16(uh: number, ul: number, vh: number, vl: number, mh: number, ml: number): void {
  mul((uh ^ vh) | 0, (ul ^ vl) | 0, mh, ml);
  const ah = rh;
  const al = (rl ^ (rh >>> 15)) | 0;
  mul((vh ^ ah) | 0, (vl ^ al) | 0, mh, ml);
  const bh = rh;
  const bl = (rl ^ (rh >>> 15)) | 0;
  mul(bh, bl, mh, ml);
}

function hashLen0to16(bytes: Uint8Array, length: number): void {
  if (length >= 4) {
    add(K2H, K2L, 0, length * 2);
    const mh = rh, ml = rl;
    if (length >= 8) {
      fetch64(bytes, 0);
      add(rh, rl, K2H, K2L);
      const ah = rh, al = rl;
      fetch64(bytes, length - 8);
      const bh = rh, bl = rl;
      rotate(bh, bl, 37);
      mul(rh, rl, mh, ml);
      add(rh, rl, ah, al);
      const ch = rh, cl = rl;
      rotate(ah, al, 25);
      add(rh, rl, bh, bl);
      mul(rh, rl, mh, ml);
      hashLen16(ch, cl, rh, rl, mh, ml);
      return;
    }
    const a = fetch32(bytes, 0);
    add(a >>> 29, (a << 3) | 0, 0, length);
    hashLen16(rh, rl, 0, fetch32(bytes, length - 4), mh, ml);
    return;
  }
  if (length > 0) {
    const y = bytes[0]! + (bytes[length >> 1]! << 8);
    const z = length + (bytes[length - 1]! << 2);
    mul(0, y, K2H, K2L);
    const th = rh, tl = rl;
    mul(0, z, K0H, K0L);
    const xh = (th ^ rh) | 0;
    const xl = (tl ^ rl ^ (xh >>> 15)) | 0;
    mul(xh, xl, K2H, K2L);
    return;
  }
  rh = K2H;
  rl = K2L;
}

/** First argument of the last {@link mixFour}'s final HashLen16 (the 33–64 class reuses it as y). */
let qh = 0;
let ql = 0;

/**
 * (rh, rl) = HashLen16(rotate(a + b, 43) + rotate(c, 30) + d, a + rotate(b + t, 18) + c, mul),
 * (qh, ql) = its first argument: the mixing step the 17–32 and 33–64 classes share.
 */
function mixFour(ah: number, al: number, bh: number, bl: number, ch: number, cl: number, dh: number, dl: number, th: number, tl: number, mh: number, ml: number): void {
  add(ah, al, bh, bl);
  rotate(rh, rl, 43);
  const t1h = rh, t1l = rl;
  rotate(ch, cl, 30);
  add(rh, rl, t1h, t1l);
  add(rh, rl, dh, dl);
  qh = rh;
  ql = rl;
  add(bh, bl, th, tl);
  rotate(rh, rl, 18);
  add(rh, rl, ah, al);
  add(rh, rl, ch, cl);
  hashLen16(qh, ql, rh, rl, mh, ml);
}

/**
 * The 17–32 and 33–64 byte classes, which start alike: mul = k2 + 2·length, a = Fetch(0)·k
 * (k1 up to 32 bytes, k2 above), b = Fetch(8), c = Fetch(length − 8)·mul, d = Fetch(length − 16)·k2,
 * y = HashLen16(rotate(a + b, 43) + rotate(c, 30) + d, a + rotate(b + k2, 18) + c, mul).
 * Up to 32 bytes y is the hash; above, the reference mixes in four more words (below).
 */
function hashLen17to64(bytes: Uint8Array, length: number): void {
  add(K2H, K2L, 0, length * 2);
  const mh = rh, ml = rl;
  fetch64(bytes, 0);
  if (length <= 32) mul(rh, rl, K1H, K1L);
  else mul(rh, rl, K2H, K2L);
  const ah = rh, al = rl;
  fetch64(bytes, 8);
  const bh = rh, bl = rl;
  fetch64(bytes, length - 8);
  mul(rh, rl, mh, ml);
  const ch = rh, cl = rl;
  fetch64(bytes, length - 16);
  mul(rh, rl, K2H, K2L);
  mixFour(ah, al, bh, bl, ch, cl, rh, rl, K2H, K2L, mh, ml);
  if (length <= 32) return;
  // 33–64: y = the first HashLen16 input above, z = its result
  const yh = qh, yl = ql, zh = rh, zl = rl;
  fetch64(bytes, 16);
  mul(rh, rl, mh, ml);
  const eh = rh, el = rl;
  fetch64(bytes, 24);
  const fh = rh, fl = rl;
  fetch64(bytes, length - 32);
  add(rh, rl, yh, yl);
  mul(rh, rl, mh, ml);
  const gh = rh, gl = rl;
  fetch64(bytes, length - 24);
  add(rh, rl, zh, zl);
  mul(rh, rl, mh, ml);
  // HashLen16(rotate(e + f, 43) + rotate(g, 30) + h, e + rotate(f + a, 18) + g, mul)
  mixFour(eh, el, fh, fl, gh, gl, rh, rl, ah, al, mh, ml);
}

/**
 * farmhash `WeakHashLen32WithSeeds` over the 32 bytes at `offset` with seeds a and b:
 * first half of the pair in (rh, rl), second in (sh, sl).
 */
function weakHashLen32WithSeeds(bytes: Uint8Array, offset: number, ah: number, al: number, bh: number, bl: number): void {
  fetch64(bytes, offset);
  add(ah, al, rh, rl); // a += w
  ah = rh;
  al = rl;
  fetch64(bytes, offset + 24);
  const zh = rh, zl = rl;
  add(bh, bl, ah, al);
  add(rh, rl, zh, zl);
  rotate(rh, rl, 21); // b = rotate(b + a + z, 21)
  bh = rh;
  bl = rl;
  const ch = ah, cl = al;
  fetch64(bytes, offset + 8);
  add(ah, al, rh, rl); // a += x
  ah = rh;
  al = rl;
  fetch64(bytes, offset + 16);
  add(ah, al, rh, rl); // a += y
  ah = rh;
  al = rl;
  rotate(ah, al, 44);
  add(bh, bl, rh, rl); // b += rotate(a, 44)
  add(rh, rl, ch, cl);
  sh = rh;
  sl = rl; // second = b + c
  add(ah, al, zh, zl); // first = a + z
}

/** State of the > 64-byte path (x, y, z and the pairs v, w), as int32 halves. */
let xh = 0, xl = 0, yh = 0, yl = 0, zh = 0, zl = 0;
let v0h = 0, v0l = 0, v1h = 0, v1l = 0, w0h = 0, w0l = 0, w1h = 0, w1l = 0;

/** x = seed·k2 + Fetch(0); y = seed·k1 + 113; z = ShiftMix(y·k2 + 113)·k2; v = w = 0. */
function startLong(bytes: Uint8Array): void {
  mul(0, 81, K1H, K1L);
  add(rh, rl, 0, 113);
  yh = rh; yl = rl;
  mul(yh, yl, K2H, K2L);
  add(rh, rl, 0, 113);
  mul(rh, (rl ^ (rh >>> 15)) | 0, K2H, K2L);
  zh = rh; zl = rl;
  v0h = v0l = v1h = v1l = w0h = w0l = w1h = w1l = 0;
  mul(0, 81, K2H, K2L);
  const th = rh, tl = rl;
  fetch64(bytes, 0);
  add(rh, rl, th, tl);
  xh = rh; xl = rl;
}

/**
 * One 64-byte round at `offset` with multiplier (mh, ml). The final round (`last`) mixes in
 * the tail length first and multiplies w1 and v0 by 9, as the reference does.
 */
function longRound(bytes: Uint8Array, offset: number, mh: number, ml: number, last: boolean, tailLength: number): void {
  if (last) {
    // w0 += tailLength; v0 += w0; w0 += v0
    add(w0h, w0l, 0, tailLength);
    w0h = rh; w0l = rl;
    add(v0h, v0l, w0h, w0l);
    v0h = rh; v0l = rl;
    add(w0h, w0l, v0h, v0l);
    w0h = rh; w0l = rl;
  }
  // x = rotate(x + y + v0 + Fetch(s + 8), 37) · mul
  add(xh, xl, yh, yl);
  add(rh, rl, v0h, v0l);
  const sxh = rh, sxl = rl;
  fetch64(bytes, offset + 8);
  add(rh, rl, sxh, sxl);
  rotate(rh, rl, 37);
  mul(rh, rl, mh, ml);
  xh = rh; xl = rl;
  // y = rotate(y + v1 + Fetch(s + 48), 42) · mul
  add(yh, yl, v1h, v1l);
  const syh = rh, syl = rl;
  fetch64(bytes, offset + 48);
  add(rh, rl, syh, syl);
  rotate(rh, rl, 42);
  mul(rh, rl, mh, ml);
  yh = rh; yl = rl;
  // x ^= w1 (·9 when last); y += v0 (·9 when last) + Fetch(s + 40)
  if (last) mul(w1h, w1l, 0, 9);
  else { rh = w1h; rl = w1l; }
  xh ^= rh; xl ^= rl;
  if (last) mul(v0h, v0l, 0, 9);
  else { rh = v0h; rl = v0l; }
  add(yh, yl, rh, rl);
  const s2h = rh, s2l = rl;
  fetch64(bytes, offset + 40);
  add(rh, rl, s2h, s2l);
  yh = rh; yl = rl;
  // z = rotate(z + w0, 33) · mul
  add(zh, zl, w0h, w0l);
  rotate(rh, rl, 33);
  mul(rh, rl, mh, ml);
  zh = rh; zl = rl;
  // v = WeakHashLen32WithSeeds(s, v1 · mul, x + w0)
  add(xh, xl, w0h, w0l);
  const seedBh = rh, seedBl = rl;
  mul(v1h, v1l, mh, ml);
  weakHashLen32WithSeeds(bytes, offset, rh, rl, seedBh, seedBl);
  const nv0h = rh, nv0l = rl, nv1h = sh, nv1l = sl;
  // w = WeakHashLen32WithSeeds(s + 32, z + w1, y + Fetch(s + 16))
  fetch64(bytes, offset + 16);
  add(rh, rl, yh, yl);
  const seedDh = rh, seedDl = rl;
  add(zh, zl, w1h, w1l);
  weakHashLen32WithSeeds(bytes, offset + 32, rh, rl, seedDh, seedDl);
  w0h = rh; w0l = rl; w1h = sh; w1l = sl;
  v0h = nv0h; v0l = nv0l; v1h = nv1h; v1l = nv1l;
  // swap(z, x)
  const swapH = zh, swapL = zl;
  zh = xh; zl = xl;
  xh = swapH; xl = swapL;
}

/** The > 64-byte path: 64-byte blocks, then the last 64 bytes with a length-dependent multiplier. */
function hashLongerThan64(bytes: Uint8Array, length: number): void {
  startLong(bytes);
  const end = Math.floor((length - 1) / 64) * 64;
  for (let offset = 0; offset !== end; offset += 64) longRound(bytes, offset, K1H, K1L, false, 0);
  // mul = k1 + ((z & 0xff) << 1); the last round reads the final 64 bytes.
  add(K1H, K1L, 0, (zl & 0xff) << 1);
  const mh = rh, ml = rl;
  const tailLength = (length - 1) & 63;
  longRound(bytes, end + tailLength - 63, mh, ml, true, tailLength);
  // HashLen16(HashLen16(v0, w0, mul) + ShiftMix(y)·k0 + z, HashLen16(v1, w1, mul) + x, mul)
  hashLen16(v0h, v0l, w0h, w0l, mh, ml);
  const h1h = rh, h1l = rl;
  mul(yh, (yl ^ (yh >>> 15)) | 0, K0H, K0L);
  add(rh, rl, h1h, h1l);
  add(rh, rl, zh, zl);
  const uh = rh, ul = rl;
  hashLen16(v1h, v1l, w1h, w1l, mh, ml);
  add(rh, rl, xh, xl);
  hashLen16(uh, ul, rh, rl, mh, ml);
}

/** Leaves FarmHash64 of `bytes[0..length)` in (rh, rl). */
function hashInto(bytes: Uint8Array, length: number): void {
  if (length <= 16) hashLen0to16(bytes, length);
  else if (length <= 64) hashLen17to64(bytes, length);
  else hashLongerThan64(bytes, length);
}

/**
 * FarmHash64 (`na::Hash64` = `Fingerprint64`) of `bytes[0..length)`, unsigned 0 … 2⁶⁴−1.
 * `length` defaults to the whole array, so a reusable scratch buffer can be hashed in place.
 */
export function farmHash64(bytes: Uint8Array, length: number = bytes.length): bigint {
  hashInto(bytes, length);
  return (BigInt(rh >>> 0) << 32n) | BigInt(rl >>> 0);
}

/**
 * `|hash| mod modulus` where hash is FarmHash64 of `bytes[0..length)` read as a signed int64
 * (Nim's `abs(hash(s)) mod m`; |−2⁶³| is taken as 2⁶³). `modulus` is a positive safe integer.
 * Allocation-free for moduli below 2³⁷ (every bloom filter), BigInt above.
 */
export function farmHash64AbsModulo(bytes: Uint8Array, length: number, modulus: number): number {
  hashInto(bytes, length);
  let high = rh, low = rl;
  if (high < 0) {
    // Two's-complement negation of the 64-bit value.
    low = (~low + 1) | 0;
    high = (~high + (low === 0 ? 1 : 0)) | 0;
  }
  high >>>= 0;
  low >>>= 0;
  if (modulus > 2 ** 37) return Number(((BigInt(high) << 32n) | BigInt(low)) % BigInt(modulus));
  const highRemainder = ((((high % modulus) * 65536) % modulus) * 65536) % modulus;
  return (highRemainder + (low % modulus)) % modulus;
}

const encoder = new TextEncoder();

/**
 * Nim ≥ 2.2 `hash(string)` on a 64-bit target: FarmHash64 of the UTF-8 bytes of `text`,
 * reinterpreted as a signed int64 (−2⁶³ … 2⁶³−1). `nimHash("") = -7286425919675154353`.
 */
export function nimHash(text: string): bigint {
  return BigInt.asIntN(64, farmHash64(encoder.encode(text)));
}
