/**
 * Minimal protobuf wire primitives shared by every codec in the toolkit: a writer that
 * emits tags, varints and length-delimited fields, and a bounds-checked reader whose every
 * failure is a `DecodeError` naming the field and the ABSOLUTE byte offset in the outer
 * input (`baseOffset` lets nested readers report positions in the caller's coordinates).
 * Only wire types 0 (varint), 1 (fixed64), 2 (length-delimited) and 5 (fixed32) exist;
 * the deprecated group types 3/4 are rejected. Pure: no I/O, no clocks.
 */
import { DecodeError } from "../../errors.js";

/** Protobuf wire types the toolkit understands. */
export const WireType = {
  Varint: 0,
  Fixed64: 1,
  LengthDelimited: 2,
  StartGroup: 3,
  EndGroup: 4,
  Fixed32: 5,
} as const;

/** A wire type number (0..7 on the wire; only 0, 1, 2, 5 are accepted by the reader). */
export type WireTypeNumber = number;

/** Largest field number protobuf allows (2^29 − 1). */
export const FIELD_NUMBER_MAX = 0x1fffffff;
/** A varint never needs more than 10 bytes to hold a uint64. */
export const VARINT_BYTES_MAX = 10;

const UINT64_MAX = (1n << 64n) - 1n;
const textEncoder = new TextEncoder();

/** Bytes a varint of `value` (0 ≤ value < 2^64) takes on the wire; numbers below 2^53 never go through BigInt. */
export function varintLength(value: bigint | number): number {
  if (typeof value === "number" && value < 2 ** 53) return smallVarintLength(value);
  let length = 1;
  for (let rest = BigInt(value) >> 7n; rest > 0n; rest >>= 7n) length += 1;
  return length;
}

/** Bytes a varint of a non-negative integer below 2^53 takes: the hot-path form (frame and diff sizing). */
export function smallVarintLength(value: number): number {
  let length = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    length += 1;
  }
  return length;
}

/**
 * Appends protobuf fields to a growing buffer. Values are checked (non-negative, < 2^64,
 * field numbers in range) with `RangeError`: a bad value here is a caller bug, not bad input.
 */
export class ProtoWriter {
  private buffer = new Uint8Array(64);
  private length = 0;

  private ensure(extraBytes: number): void {
    const needed = this.length + extraBytes;
    if (needed <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < needed) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
  }

  /** Writes a field key (`field << 3 | wireType`). */
  tag(field: number, wireType: WireTypeNumber): this {
    if (!Number.isInteger(field) || field < 1 || field > FIELD_NUMBER_MAX) throw new RangeError(`invalid field number ${field}`);
    if (!Number.isInteger(wireType) || wireType < 0 || wireType > 5) throw new RangeError(`invalid wire type ${wireType}`);
    return this.varint(field * 8 + wireType);
  }

  /** Writes an unsigned varint (0 ≤ n < 2^64). */
  varint(value: number | bigint): this {
    if (typeof value === "number") {
      if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`invalid varint ${value}`);
      if (value <= 0x7fffffff) return this.smallVarint(value);
    }
    let rest = BigInt(value);
    if (rest < 0n || rest > UINT64_MAX) throw new RangeError(`varint out of uint64 range: ${rest}`);
    if (rest < 0x80n) {
      this.ensure(1);
      this.buffer[this.length++] = Number(rest);
      return this;
    }
    this.ensure(VARINT_BYTES_MAX);
    while (rest >= 0x80n) {
      this.buffer[this.length++] = Number(rest & 0x7fn) | 0x80;
      rest >>= 7n;
    }
    this.buffer[this.length++] = Number(rest);
    return this;
  }

  private smallVarint(value: number): this {
    this.ensure(5);
    let rest = value;
    while (rest >= 0x80) {
      this.buffer[this.length++] = (rest & 0x7f) | 0x80;
      rest >>>= 7;
    }
    this.buffer[this.length++] = rest;
    return this;
  }

  /** Writes raw bytes without a key or length prefix. */
  raw(bytes: Uint8Array): this {
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
    return this;
  }

  /** Writes a `uint64` field (wire type 0). */
  uint64Field(field: number, value: bigint | number): this {
    return this.tag(field, WireType.Varint).varint(value);
  }

  /** Writes a `bytes` (or embedded message) field (wire type 2), even when empty. */
  bytesField(field: number, bytes: Uint8Array): this {
    return this.tag(field, WireType.LengthDelimited).varint(bytes.length).raw(bytes);
  }

  /** Writes a `string` field as UTF-8 (wire type 2), even when empty. */
  stringField(field: number, value: string): this {
    return this.bytesField(field, textEncoder.encode(value));
  }

  /** Returns a copy of the bytes written so far. */
  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

/** A decoded field key and where it started. */
export interface ProtoTag {
  field: number;
  wireType: WireTypeNumber;
  /** Absolute byte offset of the key's first byte. */
  offset: number;
}

/** Options for {@link ProtoReader}. */
export interface ProtoReaderOptions {
  /** Absolute offset of `bytes[0]` in the outermost input, for error reports (default 0). */
  baseOffset?: number;
}

/**
 * Reads protobuf primitives from `bytes`, never past its end. `pos` is relative to `bytes`;
 * errors report `baseOffset + pos`. `field` arguments only name the field in errors.
 */
export class ProtoReader {
  /** Current read position, relative to the start of `bytes`. */
  pos = 0;
  /** Absolute offset of `bytes[0]` in the outermost input. */
  readonly baseOffset: number;

  constructor(
    readonly bytes: Uint8Array,
    options: ProtoReaderOptions = {},
  ) {
    this.baseOffset = options.baseOffset ?? 0;
  }

  /** Absolute offset of the next byte to read. */
  get offset(): number {
    return this.baseOffset + this.pos;
  }

  /** True when every byte has been consumed. */
  eof(): boolean {
    return this.pos >= this.bytes.length;
  }

  /** Reads a field key; rejects field 0, field numbers above 2^29−1 and wire types 3, 4, 6, 7. */
  readTag(field = "tag"): ProtoTag {
    const offset = this.offset;
    const key = this.readSmallVarint(field);
    const wireType = key % 8;
    const fieldNumber = Math.floor(key / 8);
    if (fieldNumber < 1 || fieldNumber > FIELD_NUMBER_MAX) {
      throw new DecodeError("E_DECODE_WIRE_TYPE", `invalid field number ${fieldNumber}`, { field, offset }, { fieldNumber });
    }
    if (wireType !== WireType.Varint && wireType !== WireType.Fixed64 && wireType !== WireType.LengthDelimited && wireType !== WireType.Fixed32) {
      throw new DecodeError("E_DECODE_WIRE_TYPE", `unsupported wire type ${wireType}`, { field, offset }, { wireType, fieldNumber });
    }
    return { field: fieldNumber, wireType, offset };
  }

  /**
   * Reads a varint as a number when it fits in 53 bits (lengths, keys); larger values are
   * returned as `Number.MAX_SAFE_INTEGER + 1` so that bound checks against them still fail.
   */
  readSmallVarint(field = "varint"): number {
    const start = this.pos;
    let result = 0;
    let multiplier = 1;
    for (let index = 0; index < 7 && this.pos < this.bytes.length; index++) {
      const byte = this.bytes[this.pos++] as number;
      result += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) return result;
      multiplier *= 128;
    }
    this.pos = start;
    const value = this.readVarint(field);
    return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER + 1 : Number(value);
  }

  /** Reads an unsigned varint of at most 10 bytes whose value fits in 64 bits. */
  readVarint(field = "varint"): bigint {
    const start = this.offset;
    let result = 0n;
    let shift = 0n;
    for (let index = 0; index < VARINT_BYTES_MAX; index++) {
      if (this.pos >= this.bytes.length) {
        throw new DecodeError("E_DECODE_TRUNCATED", "varint runs past the end of the input", { field, offset: start });
      }
      const byte = this.bytes[this.pos++] as number;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) {
        if (result > UINT64_MAX) throw new DecodeError("E_DECODE_VARINT", "varint exceeds 64 bits", { field, offset: start });
        return result;
      }
      shift += 7n;
    }
    throw new DecodeError("E_DECODE_VARINT", "varint longer than 10 bytes", { field, offset: start });
  }

  /** Reads `length` raw bytes as a subarray (no copy). */
  readRaw(length: number, field = "bytes"): Uint8Array {
    if (this.pos + length > this.bytes.length) {
      throw new DecodeError("E_DECODE_TRUNCATED", `needs ${length} bytes, ${this.bytes.length - this.pos} left`, { field, offset: this.offset }, { lengthBytes: length });
    }
    const value = this.bytes.subarray(this.pos, this.pos + length);
    this.pos += length;
    return value;
  }

  /** Reads a length prefix and the bytes it covers, as a subarray (no copy). */
  readLengthDelimited(field = "bytes"): Uint8Array {
    const start = this.offset;
    const length = this.readSmallVarint(field);
    const left = this.bytes.length - this.pos;
    if (length > left) {
      throw new DecodeError("E_DECODE_TRUNCATED", `length ${length} exceeds the ${left} bytes left`, { field, offset: start }, { lengthBytes: length });
    }
    return this.readRaw(length, field);
  }

  /** Skips the value of a field whose key was already read. */
  skip(wireType: WireTypeNumber, field = "unknown"): void {
    switch (wireType) {
      case WireType.Varint:
        this.readVarint(field);
        return;
      case WireType.Fixed64:
        this.readRaw(8, field);
        return;
      case WireType.LengthDelimited:
        this.readLengthDelimited(field);
        return;
      case WireType.Fixed32:
        this.readRaw(4, field);
        return;
      default:
        throw new DecodeError("E_DECODE_WIRE_TYPE", `cannot skip wire type ${wireType}`, { field, offset: this.offset }, { wireType });
    }
  }
}
