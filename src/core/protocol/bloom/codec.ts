/**
 * Bloom filter bytes per dialect (research/sds-protocol.md §2.3). `spec` (js-waku): the
 * words only, each 64-bit big-endian, no parameters — the receiver applies its own. `nim`
 * (nim-sds `serializeBloomFilter`): a nested protobuf {1: words, each int64 little-endian;
 * 2: capacity; 3: ⌊errorRate·10⁶⌋; 4: kHashes; 5: mBits}, all five required. Decoders never
 * trust what they read: sizes and parameters are checked against limits first, and every
 * failure is a `DecodeError` naming the field and the absolute byte offset.
 */
import { DecodeError } from "../../errors.js";
import { ProtoReader, ProtoWriter, WireType } from "../wire/proto.js";
import { wordCountForBits, type BloomLimits } from "./sizing.js";

/** Where a filter's bytes sit in the outer input, for error reports. */
export interface BloomBytesLocation {
  /** Field name used in errors (default "bloomFilter"). */
  field?: string;
  /** Absolute offset of the filter's first byte in the outer input (default 0). */
  baseOffset?: number;
}

/**
 * In-memory layout of every filter: the spec wire layout itself — 64-bit words, each
 * big-endian — so bit h is byte `(h >>> 3) ^ 7`, mask `1 << (h & 7)`. Spec (de)serialization
 * is then a copy; the nim layout (words little-endian) reverses each 8-byte group.
 */
export function bitByteIndex(bitIndex: number): number {
  return (bitIndex >>> 3) ^ 7;
}

/** Serializes a filter as js-waku does: its words big-endian, i.e. a copy of the bit bytes. */
export function encodeSpecWords(bits: Uint8Array): Uint8Array {
  return bits.slice();
}

/**
 * Reads a spec-dialect filter of exactly `wordCount` words into a fresh bit array. js-waku
 * reads whatever is there (a short blob throws a RangeError, a long one is silently
 * truncated); we require the exact length the receiver's parameters imply, so a peer with
 * other parameters is noticed.
 */
export function decodeSpecWords(bytes: Uint8Array, wordCount: number, location: BloomBytesLocation = {}): Uint8Array {
  const field = location.field ?? "bloomFilter";
  const offset = location.baseOffset ?? 0;
  if (bytes.length !== wordCount * 8) {
    throw new DecodeError(
      "E_BLOOM_PARAMS",
      `spec bloom filter has ${bytes.length} bytes; these parameters need exactly ${wordCount * 8} (${wordCount} words)`,
      { field, offset },
      { lengthBytes: bytes.length, expectedBytes: wordCount * 8 },
    );
  }
  return bytes.slice();
}

const hostIsLittleEndian = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

function byteSwap32(value: number): number {
  return ((value & 0xff) << 24) | ((value & 0xff00) << 8) | ((value >>> 8) & 0xff00) | (value >>> 24);
}

/**
 * Copies `source` into `target` at `targetOffset`, reversing each 8-byte group (big-endian ⇄
 * little-endian words). Works a 32-bit word at a time when both sides are 4-byte aligned.
 */
function swapWordBytes(source: Uint8Array, target: Uint8Array, targetOffset: number): void {
  const targetStart = target.byteOffset + targetOffset;
  if (hostIsLittleEndian && source.byteOffset % 4 === 0 && targetStart % 4 === 0) {
    const from = new Int32Array(source.buffer, source.byteOffset, source.length >>> 2);
    const to = new Int32Array(target.buffer, targetStart, source.length >>> 2);
    for (let index = 0; index < from.length; index += 2) {
      to[index] = byteSwap32(from[index + 1]!);
      to[index + 1] = byteSwap32(from[index]!);
    }
    return;
  }
  for (let index = 0; index < source.length; index++) target[targetOffset + (index ^ 7)] = source[index]!;
}

/** Parameters carried by a nim-dialect filter. */
export interface NimBloomFields {
  capacity: number;
  /** `errorRate·10⁶` truncated, as on the wire. */
  errorRateMicros: number;
  kHashes: number;
  mBits: number;
  /** The bits in the in-memory (spec, big-endian words) layout. */
  bits: Uint8Array;
}

/** Serializes a nim-dialect filter: fields 1–5 in order, words little-endian. */
export function encodeNimBloom(fields: NimBloomFields): Uint8Array {
  const tail = new ProtoWriter()
    .uint64Field(2, fields.capacity)
    .uint64Field(3, fields.errorRateMicros)
    .uint64Field(4, fields.kHashes)
    .uint64Field(5, fields.mBits)
    .finish();
  const head = new ProtoWriter().tag(1, WireType.LengthDelimited).varint(fields.bits.length).finish();
  // Swap into an aligned scratch first (the head's length leaves the output unaligned).
  const words = new Uint8Array(fields.bits.length);
  swapWordBytes(fields.bits, words, 0);
  const output = new Uint8Array(head.length + words.length + tail.length);
  output.set(head, 0);
  output.set(words, head.length);
  output.set(tail, head.length + words.length);
  return output;
}

const FIELD_NAMES = ["", "words", "capacity", "errorRate", "kHashes", "mBits"] as const;

function checkedParameter(name: string, value: bigint, min: number, max: number, field: string, offset: number): number {
  if (value < BigInt(min) || value > BigInt(max)) {
    throw new DecodeError("E_BLOOM_PARAMS", `bloom ${name} ${value} outside ${min}..${max}`, { field: `${field}.${name}`, offset }, { [name]: value.toString() });
  }
  return Number(value);
}

/**
 * Decodes a nim-dialect filter and validates it before any allocation that depends on it:
 * k in 1..kHashesMax, mBits in 1..mBitsMax, capacity in 1..capacityMax, errorRate·10⁶ below
 * 10⁶, and the words exactly `8·(1 + mBits div 64)` bytes (nim-sds silently accepts other
 * lengths and then indexes out of range). Unknown fields are skipped; a repeated field
 * keeps its last value (minprotobuf `getField`); a missing one is `E_DECODE_MISSING_FIELD`.
 */
export function decodeNimBloom(bytes: Uint8Array, limits: BloomLimits, location: BloomBytesLocation = {}): NimBloomFields {
  const field = location.field ?? "bloomFilter";
  const reader = new ProtoReader(bytes, { baseOffset: location.baseOffset ?? 0 });
  const values: (bigint | undefined)[] = [];
  const offsets: number[] = [];
  let words: Uint8Array | undefined;
  let wordsOffset = 0;
  while (!reader.eof()) {
    const tag = reader.readTag(`${field}.tag`);
    const name = FIELD_NAMES[tag.field];
    if (name === undefined || tag.field === 0) {
      reader.skip(tag.wireType, `${field}.unknown`);
      continue;
    }
    const expected = tag.field === 1 ? WireType.LengthDelimited : WireType.Varint;
    if (tag.wireType !== expected) {
      throw new DecodeError("E_DECODE_WIRE_TYPE", `bloom field ${tag.field} has wire type ${tag.wireType}, expected ${expected}`, { field: `${field}.${name}`, offset: tag.offset });
    }
    if (tag.field === 1) {
      wordsOffset = reader.offset;
      words = reader.readLengthDelimited(`${field}.words`);
    } else {
      offsets[tag.field] = reader.offset;
      values[tag.field] = reader.readVarint(`${field}.${name}`);
    }
  }
  const end = (location.baseOffset ?? 0) + bytes.length;
  for (let number = 2; number <= 5; number++) {
    if (values[number] === undefined) {
      throw new DecodeError("E_DECODE_MISSING_FIELD", `bloom filter lacks required field ${number} (${FIELD_NAMES[number]})`, { field: `${field}.${FIELD_NAMES[number]}`, offset: end });
    }
  }
  if (words === undefined) {
    throw new DecodeError("E_DECODE_MISSING_FIELD", "bloom filter lacks required field 1 (words)", { field: `${field}.words`, offset: end });
  }
  const kHashes = checkedParameter("kHashes", values[4]!, 1, limits.kHashesMax, field, offsets[4]!);
  const mBits = checkedParameter("mBits", values[5]!, 1, limits.mBitsMax, field, offsets[5]!);
  const capacity = checkedParameter("capacity", values[2]!, 1, limits.capacityMax, field, offsets[2]!);
  const errorRateMicros = checkedParameter("errorRate", values[3]!, 0, 999_999, field, offsets[3]!);
  const wordCount = wordCountForBits(mBits);
  if (words.length !== wordCount * 8) {
    throw new DecodeError(
      "E_BLOOM_PARAMS",
      `bloom words are ${words.length} bytes; mBits ${mBits} needs exactly ${wordCount * 8}`,
      { field: `${field}.words`, offset: wordsOffset },
      { lengthBytes: words.length, expectedBytes: wordCount * 8 },
    );
  }
  const bits = new Uint8Array(words.length);
  swapWordBytes(words.byteOffset % 4 === 0 ? words : words.slice(), bits, 0);
  return { capacity, errorRateMicros, kHashes, mBits, bits };
}
