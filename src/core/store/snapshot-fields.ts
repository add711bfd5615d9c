/**
 * Shared pieces of the nim snapshot codec: limits, the nim message and `HistoryEntry`
 * encodings, absence flags (the nim layout cannot tell "no content" from "empty content"),
 * and bounds-checked reader helpers that report absolute byte offsets.
 */
import { DecodeError } from "../errors.js";
import { fastEncode } from "../protocol/engine/fast-codec.js";
import { decodeMessage } from "../protocol/wire/index.js";
import type { DecodeLimits } from "../protocol/wire/limits.js";
import { ProtoReader, type ProtoTag, ProtoWriter, WireType } from "../protocol/wire/proto.js";
import type { HistoryEntry, SdsMessage } from "../protocol/types.js";

/** The only `ChannelMeta.schemaVersion` this codec reads or writes. */
export const CHANNEL_META_SCHEMA_VERSION = 1;

/** Limits for decoding snapshots; every count and size is bounded. */
export interface SnapshotLimits {
  /** Most entries in any one buffer of a `ChannelMeta`. */
  bufferEntriesMax: number;
  /** Most messages in a `ChannelData.messageHistory` or `HistoryUpdate`. */
  historyEntriesMax: number;
  /** Limits for each embedded SDS message. */
  message?: Partial<DecodeLimits>;
}

/** Defaults well above nim's caps (history 1,000; buffers bounded by the engine's limits). */
export const DEFAULT_SNAPSHOT_LIMITS: Readonly<SnapshotLimits> = Object.freeze({ bufferEntriesMax: 100_000, historyEntriesMax: 100_000 });

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
/** First field number of our extensions inside nim snapshot messages (nim skips unknown fields). */
export const EXT = 100;

/**
 * Encodes an SDS message in the nim layout (snapshots always embed nim bytes), with the
 * engine's one-allocation encoder, byte-identical to `encodeMessage(…, { dialect: "nim" })`.
 */
export function encodeNimMessage(message: SdsMessage): Uint8Array {
  return fastEncode(message, "nim");
}

/**
 * The nim layout always writes `content` and `bloom_filter`, so an absent one decodes as
 * empty. These flags (bit 0: content absent, bit 1: bloom absent) let us restore exactly.
 */
export function messageAbsenceFlags(message: SdsMessage): number {
  return (message.content == null ? 1 : 0) | (message.bloomFilter == null ? 2 : 0);
}

/** Removes the fields {@link messageAbsenceFlags} marked absent from a decoded message. */
export function applyAbsenceFlags(message: SdsMessage, flags: number): SdsMessage {
  if (flags === 0) return message;
  const out = { ...message };
  if ((flags & 1) !== 0) delete out.content;
  if ((flags & 2) !== 0) delete out.bloomFilter;
  return out;
}

/** Encodes a `HistoryEntry` in the nim layout (1 id; 2 hint and 3 sender only when non-empty). */
export function encodeHistoryEntry(entry: HistoryEntry): Uint8Array {
  const writer = new ProtoWriter().bytesField(1, utf8.encode(entry.messageId));
  if (entry.retrievalHint != null && entry.retrievalHint.length > 0) writer.bytesField(2, entry.retrievalHint);
  if (entry.senderId != null && entry.senderId !== "") writer.stringField(3, entry.senderId);
  return writer.finish();
}

/** Context for nested decoding: where the bytes sit in the outer blob, and the limits. */
export interface SnapshotDecodeContext {
  base: number;
  limits: SnapshotLimits;
  /** For our rows: the message an `UnacknowledgedMessage` row refers to in `sds.log`. */
  resolveMessage?: () => SdsMessage | undefined;
  /**
   * Our rows only: the bloom filter of an entry's published bytes, rebuilt from the diff the
   * row carries inline (`inlineDiff`, extension field 124) or, for rows of earlier builds,
   * from its `sdstk.wbloom` row.
   */
  resolveWireBloom?: (inlineDiff?: Uint8Array) => Uint8Array | undefined;
}

/** Shared reader helper of the snapshot codecs. */
export function readString(reader: ProtoReader, field: string): string {
  const offset = reader.offset;
  const bytes = reader.readLengthDelimited(field);
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new DecodeError("E_DECODE_UTF8", "string is not valid UTF-8", { field, offset });
  }
}

/** Shared reader helper of the snapshot codecs. */
export function expect(tag: ProtoTag, wireType: number, field: string): void {
  if (tag.wireType !== wireType) {
    throw new DecodeError("E_DECODE_WIRE_TYPE", `wire type ${tag.wireType} where ${wireType} was expected`, { field, offset: tag.offset });
  }
}

/** Shared reader helper of the snapshot codecs. */
export function embedded(reader: ProtoReader, tag: ProtoTag, field: string): { bytes: Uint8Array; base: number } {
  expect(tag, WireType.LengthDelimited, field);
  const bytes = reader.readLengthDelimited(field);
  return { bytes, base: reader.baseOffset + reader.pos - bytes.length };
}

/** Shared reader helper of the snapshot codecs. */
export function varintNumber(reader: ProtoReader, tag: ProtoTag, field: string): number {
  expect(tag, WireType.Varint, field);
  const value = reader.readVarint(field);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodeError("E_DECODE_LIMIT", `${field} ${value} is above 2^53`, { field, offset: tag.offset });
  return Number(value);
}

/** Shared reader helper of the snapshot codecs. */
export function decodeEmbeddedMessage(bytes: Uint8Array, base: number, field: string, ctx: SnapshotDecodeContext): SdsMessage {
  try {
    return decodeMessage(bytes, { dialect: "nim", ...(ctx.limits.message ? { limits: ctx.limits.message } : {}) });
  } catch (error) {
    if (error instanceof DecodeError) {
      throw new DecodeError(error.code, `${field}: ${error.message}`, { field: `${field}.${error.field}`, offset: base + error.offset });
    }
    throw error;
  }
}

/** Decodes a nim-layout `HistoryEntry`. */
export function decodeHistoryEntry(bytes: Uint8Array, base = 0, field = "HistoryEntry"): HistoryEntry {
  const reader = new ProtoReader(bytes, { baseOffset: base });
  let messageId: string | undefined;
  const entry: Partial<HistoryEntry> = {};
  while (!reader.eof()) {
    const tag = reader.readTag(field);
    if (tag.field === 1) messageId = (expect(tag, WireType.LengthDelimited, `${field}.messageId`), readString(reader, `${field}.messageId`));
    else if (tag.field === 2) entry.retrievalHint = (expect(tag, WireType.LengthDelimited, `${field}.retrievalHint`), reader.readLengthDelimited(`${field}.retrievalHint`).slice());
    else if (tag.field === 3) entry.senderId = (expect(tag, WireType.LengthDelimited, `${field}.senderId`), readString(reader, `${field}.senderId`));
    else reader.skip(tag.wireType, `${field}.field${tag.field}`);
  }
  if (messageId === undefined) throw new DecodeError("E_DECODE_MISSING_FIELD", "required field 1 is missing", { field: `${field}.messageId`, offset: base + bytes.length });
  return { messageId, ...entry };
}

/** A missing-required-field error at `end`. */
export function missing(field: string, end: number): DecodeError {
  return new DecodeError("E_DECODE_MISSING_FIELD", "required field is missing", { field, offset: end });
}

