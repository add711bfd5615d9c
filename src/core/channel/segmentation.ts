/**
 * Segmentation of Reliable Channel payloads in the nim-segmentation wire layout
 * (research/reliable-channel.md §2.2 (C), §2.3): every payload, even a one-segment one, is
 * wrapped in a `SegmentMessage` protobuf carrying the Keccak-256 (Ethereum padding, NOT
 * SHA3-256) hash and length of the whole payload, the segment's index and the set's counts.
 * Data chunks are 64-byte aligned so a Reed-Solomon peer could decode them. This module only
 * produces data segments (parity rate 0); parity segments are recognised on decode and flagged
 * (`isParity`), never generated or used for reconstruction. Pure: no I/O, no clocks.
 */
import { DecodeError, SdsError } from "../errors.js";
import { keccak256 } from "../protocol/hash/keccak256.js";
import { ProtoReader, ProtoWriter, WireType } from "../protocol/wire/proto.js";

/** Length of `originalPayloadHash` (Keccak-256). */
export const SEGMENT_HASH_BYTES = 32;
/** Bytes reserved for the SegmentMessage header when sizing chunks (nim `SegmentHeaderMaxBytes`). */
export const SEGMENT_HEADER_BYTES_MAX = 128;
/** Smallest accepted `segmentBytesMax` (nim `MinSegmentSizeBytes`). */
export const SEGMENT_BYTES_MIN = 192;
/** Default encoded segment size bound (nim `DefaultSegmentSizeBytes`); chunks are then 102 272 B. */
export const SEGMENT_BYTES_MAX_DEFAULT = 102_400;
/** Default cap on data + parity segments per payload; all participants must agree on it. */
export const SEGMENT_TOTAL_COUNT_MAX_DEFAULT = 256;
/** Chunk sizes are rounded down to a multiple of this (Leopard-RS shard alignment). */
export const SEGMENT_CHUNK_ALIGN_BYTES = 64;
const UINT32_MAX = 0xffff_ffff;

/** One decoded `SegmentMessage`. */
export interface Segment {
  /** Keccak-256 of the whole original payload (32 bytes). */
  originalPayloadHash: Uint8Array;
  /** Length in bytes of the whole original payload (uint32). */
  originalPayloadLength: number;
  /** Zero-based index within its own class (data or parity). */
  index: number;
  /** Number of data segments in the set (≥ 1). */
  dataSegmentCount: number;
  /** Number of parity segments in the set; `undefined` when the field is absent (no parity). */
  paritySegmentCount?: number;
  /** True for a Reed-Solomon parity segment (recognised, never reconstructed from here). */
  isParity: boolean;
  /** This segment's slice of the payload (or parity shard). */
  segmentPayload: Uint8Array;
}

/** Limits applied when decoding a segment received from the network. */
export interface SegmentDecodeLimits {
  /** Largest `segmentPayload` accepted, in bytes (default {@link SEGMENT_BYTES_MAX_DEFAULT}). */
  segmentBytesMax?: number;
  /** Largest data + parity count accepted (default {@link SEGMENT_TOTAL_COUNT_MAX_DEFAULT}). */
  totalSegmentCountMax?: number;
}

/** Options for {@link segmentPayload}. */
export interface SegmentPayloadOptions {
  /** Upper bound on one encoded segment, in bytes (≥ {@link SEGMENT_BYTES_MIN}; default 102 400). */
  segmentBytesMax?: number;
  /** Refuse payloads needing more segments than this (default 256). */
  totalSegmentCountMax?: number;
}

/** Keccak-256 of `payload`: the set identity every segment of it carries. */
export function payloadHash(payload: Uint8Array): Uint8Array {
  return keccak256(payload);
}

/**
 * Data bytes per segment for a given encoded-segment bound: `alignDown64(segmentBytesMax − 128)`.
 * Throws `E_CONFIG_INVALID` below {@link SEGMENT_BYTES_MIN}.
 */
export function chunkBytesFor(segmentBytesMax: number): number {
  if (!Number.isSafeInteger(segmentBytesMax) || segmentBytesMax < SEGMENT_BYTES_MIN) {
    throw new SdsError("E_CONFIG_INVALID", `segmentBytesMax must be an integer ≥ ${SEGMENT_BYTES_MIN}, got ${segmentBytesMax}`, { segmentBytesMax });
  }
  const usable = segmentBytesMax - SEGMENT_HEADER_BYTES_MAX;
  return usable - (usable % SEGMENT_CHUNK_ALIGN_BYTES);
}

/**
 * Encodes one segment: fields in ascending order, proto3 defaults omitted (no index 0, no
 * length 0, no `is_parity` false, no empty payload); `paritySegmentCount` written whenever set.
 */
export function encodeSegment(segment: Segment): Uint8Array {
  if (segment.originalPayloadHash.length !== SEGMENT_HASH_BYTES) throw new RangeError("originalPayloadHash must be 32 bytes");
  const writer = new ProtoWriter().bytesField(1, segment.originalPayloadHash);
  if (segment.originalPayloadLength !== 0) writer.uint64Field(2, segment.originalPayloadLength);
  if (segment.index !== 0) writer.uint64Field(3, segment.index);
  if (segment.dataSegmentCount !== 0) writer.uint64Field(4, segment.dataSegmentCount);
  if (segment.paritySegmentCount !== undefined) writer.uint64Field(5, segment.paritySegmentCount);
  if (segment.isParity) writer.uint64Field(6, 1);
  if (segment.segmentPayload.length > 0) writer.bytesField(7, segment.segmentPayload);
  return writer.finish();
}

/**
 * Splits `payload` into encoded data segments (parity rate 0). An empty payload gives one
 * segment. Throws `E_PAYLOAD_TOO_LARGE` when more than `totalSegmentCountMax` segments (or a
 * length beyond uint32) would be needed, `E_CONFIG_INVALID` for a bad `segmentBytesMax`.
 */
export function segmentPayload(payload: Uint8Array, options: SegmentPayloadOptions = {}): Uint8Array[] {
  const segmentBytesMax = options.segmentBytesMax ?? SEGMENT_BYTES_MAX_DEFAULT;
  const totalMax = options.totalSegmentCountMax ?? SEGMENT_TOTAL_COUNT_MAX_DEFAULT;
  const chunkBytes = chunkBytesFor(segmentBytesMax);
  const dataSegmentCount = Math.max(1, Math.ceil(payload.length / chunkBytes));
  if (dataSegmentCount > totalMax || payload.length > UINT32_MAX) {
    throw new SdsError("E_PAYLOAD_TOO_LARGE", `payload of ${payload.length} bytes needs ${dataSegmentCount} segments of ${chunkBytes} bytes, limit ${totalMax}`, {
      payloadBytes: payload.length,
      segmentCount: dataSegmentCount,
      totalSegmentCountMax: totalMax,
    });
  }
  const originalPayloadHash = payloadHash(payload);
  const segments: Uint8Array[] = [];
  for (let index = 0; index < dataSegmentCount; index++) {
    segments.push(
      encodeSegment({
        originalPayloadHash,
        originalPayloadLength: payload.length,
        index,
        dataSegmentCount,
        isParity: false,
        segmentPayload: payload.subarray(index * chunkBytes, Math.min(payload.length, (index + 1) * chunkBytes)),
      }),
    );
  }
  return segments;
}

function invalid(message: string, field: string, offset: number, details: Record<string, unknown> = {}): DecodeError {
  return new DecodeError("E_SEGMENT_INVALID", message, { field, offset }, details);
}

function readUint32(reader: ProtoReader, wireType: number, field: string): number {
  const offset = reader.offset;
  if (wireType !== WireType.Varint) throw new DecodeError("E_DECODE_WIRE_TYPE", `expected a varint, got wire type ${wireType}`, { field, offset });
  const value = reader.readVarint(field);
  if (value > BigInt(UINT32_MAX)) throw invalid(`value ${value} does not fit in uint32`, field, offset);
  return Number(value);
}

function readBytes(reader: ProtoReader, wireType: number, field: string): Uint8Array {
  if (wireType !== WireType.LengthDelimited) {
    throw new DecodeError("E_DECODE_WIRE_TYPE", `expected length-delimited, got wire type ${wireType}`, { field, offset: reader.offset });
  }
  return reader.readLengthDelimited(field);
}

interface FieldOffsets {
  hash: number;
  index: number;
  dataCount: number;
  payload: number;
}

/**
 * Decodes and validates one segment (§2.4): 32-byte hash, data count ≥ 1, data + parity ≤
 * `totalSegmentCountMax`, index < count of its class, payload ≤ `segmentBytesMax`. Unknown
 * fields are skipped. Every failure is a `DecodeError` (`E_SEGMENT_INVALID`, or a wire-level
 * code) naming the field and byte offset. `segmentPayload` is a subarray of `bytes`.
 */
export function decodeSegment(bytes: Uint8Array, limits: SegmentDecodeLimits = {}, baseOffset = 0): Segment {
  const reader = new ProtoReader(bytes, { baseOffset });
  const segment: Segment = { originalPayloadHash: new Uint8Array(), originalPayloadLength: 0, index: 0, dataSegmentCount: 0, isParity: false, segmentPayload: new Uint8Array() };
  const at: FieldOffsets = { hash: baseOffset, index: baseOffset, dataCount: baseOffset, payload: baseOffset };
  while (!reader.eof()) {
    const tag = reader.readTag("segment");
    switch (tag.field) {
      case 1:
        at.hash = tag.offset;
        segment.originalPayloadHash = readBytes(reader, tag.wireType, "originalPayloadHash");
        break;
      case 2:
        segment.originalPayloadLength = readUint32(reader, tag.wireType, "originalPayloadLength");
        break;
      case 3:
        at.index = tag.offset;
        segment.index = readUint32(reader, tag.wireType, "index");
        break;
      case 4:
        at.dataCount = tag.offset;
        segment.dataSegmentCount = readUint32(reader, tag.wireType, "dataSegmentCount");
        break;
      case 5:
        segment.paritySegmentCount = readUint32(reader, tag.wireType, "paritySegmentCount");
        break;
      case 6:
        segment.isParity = readUint32(reader, tag.wireType, "isParity") !== 0;
        break;
      case 7:
        at.payload = tag.offset;
        segment.segmentPayload = readBytes(reader, tag.wireType, "segmentPayload");
        break;
      default:
        reader.skip(tag.wireType, `unknown field ${tag.field}`);
    }
  }
  validateSegment(segment, limits, at);
  return segment;
}

function validateSegment(segment: Segment, limits: SegmentDecodeLimits, at: FieldOffsets): void {
  const totalMax = limits.totalSegmentCountMax ?? SEGMENT_TOTAL_COUNT_MAX_DEFAULT;
  const payloadMax = limits.segmentBytesMax ?? SEGMENT_BYTES_MAX_DEFAULT;
  if (segment.originalPayloadHash.length !== SEGMENT_HASH_BYTES) {
    throw invalid(`hash must be ${SEGMENT_HASH_BYTES} bytes, got ${segment.originalPayloadHash.length}`, "originalPayloadHash", at.hash);
  }
  if (segment.dataSegmentCount < 1) throw invalid("dataSegmentCount must be at least 1", "dataSegmentCount", at.dataCount);
  const parityCount = segment.paritySegmentCount ?? 0;
  if (segment.dataSegmentCount + parityCount > totalMax) {
    throw invalid(`${segment.dataSegmentCount} data + ${parityCount} parity segments exceed the limit of ${totalMax}`, "dataSegmentCount", at.dataCount, { totalSegmentCountMax: totalMax });
  }
  const classCount = segment.isParity ? parityCount : segment.dataSegmentCount;
  if (segment.index >= classCount) {
    throw invalid(`index ${segment.index} is not below the ${segment.isParity ? "parity" : "data"} count ${classCount}`, "index", at.index);
  }
  if (segment.segmentPayload.length > payloadMax) {
    throw invalid(`segment payload of ${segment.segmentPayload.length} bytes exceeds ${payloadMax}`, "segmentPayload", at.payload, { segmentBytesMax: payloadMax });
  }
}
