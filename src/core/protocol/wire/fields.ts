/**
 * Field-level helpers shared by the dialect codecs: read a string or bytes field with its
 * length limit checked before the bytes are touched, insist on the expected wire type, and
 * count repeated entries. Offsets in errors are absolute (the reader's `baseOffset` applies).
 */
import { DecodeError } from "../../errors.js";
import type { DecodeLimits } from "./limits.js";
import { checkLimit } from "./limits.js";
import { type ProtoReader, type ProtoTag, WireType } from "./proto.js";
import { decodeUtf8 } from "./text.js";

const WIRE_TYPE_NAMES = ["varint", "fixed64", "length-delimited", "start-group", "end-group", "fixed32"];

/** Human name of a wire type number, for errors and dumps. */
export function wireTypeName(wireType: number): string {
  return WIRE_TYPE_NAMES[wireType] ?? `wire type ${wireType}`;
}

/** Throws `E_DECODE_WIRE_TYPE` unless the key's wire type is the one the schema declares. */
export function expectWireType(tag: ProtoTag, expected: number, field: string): void {
  if (tag.wireType !== expected) {
    throw new DecodeError(
      "E_DECODE_WIRE_TYPE",
      `field ${tag.field} has wire type ${wireTypeName(tag.wireType)}, expected ${wireTypeName(expected)}`,
      { field, offset: tag.offset },
      { fieldNumber: tag.field, wireType: tag.wireType, expectedWireType: expected },
    );
  }
}

/** Reads a length prefix, checks it against `maxBytes` (naming `limitName`), returns the bytes (no copy). */
export function readBoundedBytes(reader: ProtoReader, field: string, limitName: keyof DecodeLimits, maxBytes: number): { bytes: Uint8Array; offset: number } {
  const lengthOffset = reader.offset;
  const length = reader.readSmallVarint(field);
  checkLimit(limitName, length, maxBytes, { field, offset: lengthOffset });
  const left = reader.bytes.length - reader.pos;
  if (length > left) {
    throw new DecodeError("E_DECODE_TRUNCATED", `length ${length} exceeds the ${left} bytes left`, { field, offset: lengthOffset }, { lengthBytes: length });
  }
  const offset = reader.offset;
  return { bytes: reader.readRaw(length, field), offset };
}

/** Reads a length-delimited `string` field as strict UTF-8 within `idBytesMax`. */
export function readIdString(reader: ProtoReader, tag: ProtoTag, field: string, limits: DecodeLimits): string {
  expectWireType(tag, WireType.LengthDelimited, field);
  const { bytes, offset } = readBoundedBytes(reader, field, "idBytesMax", limits.idBytesMax);
  return decodeUtf8(bytes, { field, offset });
}

/** Reads a length-delimited `bytes` field within `maxBytes`, as a copy detached from the input. */
export function readBytesCopy(reader: ProtoReader, tag: ProtoTag, field: string, limitName: keyof DecodeLimits, maxBytes: number): Uint8Array {
  expectWireType(tag, WireType.LengthDelimited, field);
  return readBoundedBytes(reader, field, limitName, maxBytes).bytes.slice();
}

/** Reads a `uint64` varint field. */
export function readUint64(reader: ProtoReader, tag: ProtoTag, field: string): bigint {
  expectWireType(tag, WireType.Varint, field);
  return reader.readVarint(field);
}

/** Reads an embedded message's bytes (any length the whole-blob limit allowed) and its absolute offset. */
export function readEmbedded(reader: ProtoReader, tag: ProtoTag, field: string): { bytes: Uint8Array; offset: number } {
  expectWireType(tag, WireType.LengthDelimited, field);
  return readBoundedBytes(reader, field, "wireBytesMax", Number.MAX_SAFE_INTEGER);
}

/** Throws `E_DECODE_LIMIT` when a repeated field is about to exceed its entry limit. */
export function checkEntryCount(count: number, limitName: "causalHistoryEntriesMax" | "repairRequestEntriesMax", limits: DecodeLimits, where: { field: string; offset: number }): void {
  checkLimit(limitName, count, limits[limitName], where);
}

/** Throws `E_DECODE_MISSING_FIELD` for a field the dialect requires. */
export function missingField(field: string, offset: number, fieldNumber: number): DecodeError {
  return new DecodeError("E_DECODE_MISSING_FIELD", `required field ${fieldNumber} is missing`, { field, offset }, { fieldNumber });
}
