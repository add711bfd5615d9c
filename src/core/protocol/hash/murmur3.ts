/**
 * MurmurHash3_x86_32 (seed 0) exactly as js-waku's `nim_hashn.mjs` runs it: the Nim 2.2
 * JS build with `-d:nimStringHash2`. That build turns the string into one array element
 * per *code point* (`Array.from`), each element being the code point's first UTF-16 code
 * unit (up to 0xFFFF, not a byte), and ORs those elements into 8-bit-shifted blocks. For
 * ASCII this is ordinary Murmur over the bytes; for other text it is a js-waku quirk that
 * the `spec` dialect must reproduce bit for bit. The result is a signed 32-bit integer.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;
const H_ADD = 0xe6546b64;
const FMIX1 = 0x85ebca6b;
const FMIX2 = 0xc2b2ae35;

/** Largest scratch buffer (elements) kept between calls; longer inputs get a temporary one. */
const scratchElementsMax = 4096;
let scratch = new Uint16Array(256);

/**
 * Writes the js-waku element sequence of `text` (one element per code point: its first
 * UTF-16 unit) into `target`, returning the element count. `target` must hold
 * `text.length + extra` elements.
 */
function fillElements(text: string, target: Uint16Array): number {
  let count = 0;
  const length = text.length;
  for (let index = 0; index < length; index++) {
    const unit = text.charCodeAt(index);
    target[count++] = unit;
    // A high surrogate followed by a low one is a single code point: skip the low unit.
    if (unit >= 0xd800 && unit <= 0xdbff && index + 1 < length) {
      const next = text.charCodeAt(index + 1);
      if (next >= 0xdc00 && next <= 0xdfff) index++;
    }
  }
  return count;
}

function rotateLeft32(value: number, bits: number): number {
  return (value << bits) | (value >>> (32 - bits));
}

function mixBlock(block: number): number {
  let k1 = Math.imul(block, C1);
  k1 = rotateLeft32(k1, 15);
  return Math.imul(k1, C2);
}

/**
 * Murmur over `elements[0..count)`; each element is ORed into its block after an 8-bit
 * shift, as the Nim JS output does (elements above 0xFF overlap their neighbours).
 */
export function murmur3Elements(elements: ArrayLike<number>, count: number): number {
  let h1 = 0;
  const blocksEnd = count - (count % 4);
  let index = 0;
  for (; index < blocksEnd; index += 4) {
    const block = (((((elements[index + 3]! << 8) | elements[index + 2]!) << 8) | elements[index + 1]!) << 8) | elements[index]!;
    h1 ^= mixBlock(block);
    h1 = rotateLeft32(h1, 13);
    h1 = (Math.imul(h1, 5) + H_ADD) | 0;
  }
  let tail = 0;
  for (let remaining = count - blocksEnd; remaining > 0; remaining--) {
    tail = (tail << 8) | elements[index + remaining - 1]!;
  }
  if (count !== blocksEnd) h1 ^= mixBlock(tail);
  h1 ^= count;
  h1 ^= h1 >>> 16;
  h1 = Math.imul(h1, FMIX1);
  h1 ^= h1 >>> 13;
  h1 = Math.imul(h1, FMIX2);
  h1 ^= h1 >>> 16;
  return h1 | 0;
}

function scratchFor(elementsNeeded: number): Uint16Array {
  if (elementsNeeded <= scratch.length) return scratch;
  if (elementsNeeded > scratchElementsMax) return new Uint16Array(elementsNeeded);
  scratch = new Uint16Array(Math.min(scratchElementsMax, Math.max(elementsNeeded, scratch.length * 2)));
  return scratch;
}

/**
 * Nim `hash(string)` of the js-waku build: MurmurHash3_x86_32, seed 0, over the code-point
 * elements of `text`, as a signed 32-bit integer (−2³¹ … 2³¹−1).
 */
export function murmur3Hash(text: string): number {
  const elements = scratchFor(text.length);
  return murmur3Elements(elements, fillElements(text, elements));
}

/**
 * The two hashes the bloom filter needs for `text` in one pass: `hash(text)` and
 * `hash(text & " b")`, both signed 32-bit. Writes them into `out[0]` and `out[1]`.
 */
export function murmur3HashPair(text: string, out: Float64Array): void {
  const elements = scratchFor(text.length + 2);
  const count = fillElements(text, elements);
  out[0] = murmur3Elements(elements, count);
  elements[count] = 0x20;
  elements[count + 1] = 0x62;
  out[1] = murmur3Elements(elements, count + 2);
}
