/**
 * The nim-sds snapshot codec (`sds/snapshot_codec.nim`, research/sds-protocol.md §5):
 * `ChannelMeta` (schemaVersion 1, refused loudly otherwise), `ChannelData` and
 * `HistoryUpdate`, with embedded messages in the nim wire layout and times as uint64
 * varints of Unix milliseconds. Our extension fields (possible-ack count, published bytes,
 * receive time, …) use field numbers from 100 up, which nim's decoder skips, so a blob we
 * write stays readable there and one nim wrote reads here with those fields absent.
 */
import { DecodeError } from "../errors.js";
import { decodeMessage, encodeMessage } from "../protocol/wire/index.js";
import type { DecodeLimits } from "../protocol/wire/limits.js";
import { ProtoReader, type ProtoTag, ProtoWriter, WireType } from "../protocol/wire/proto.js";
import type { HistoryEntry, SdsMessage } from "../protocol/types.js";
import type { ChannelData, ChannelMeta, HistoryUpdate, IncomingMessage, IncomingRepairEntry, OutgoingRepairEntry, UnacknowledgedMessage } from "./contract.js";

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
const EXT = 100;

/** Encodes an SDS message in the nim layout (snapshots always embed nim bytes). */
export function encodeNimMessage(message: SdsMessage): Uint8Array {
  return encodeMessage(message, { dialect: "nim" });
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
}

function readString(reader: ProtoReader, field: string): string {
  const offset = reader.offset;
  const bytes = reader.readLengthDelimited(field);
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new DecodeError("E_DECODE_UTF8", "string is not valid UTF-8", { field, offset });
  }
}

function expect(tag: ProtoTag, wireType: number, field: string): void {
  if (tag.wireType !== wireType) {
    throw new DecodeError("E_DECODE_WIRE_TYPE", `wire type ${tag.wireType} where ${wireType} was expected`, { field, offset: tag.offset });
  }
}

function embedded(reader: ProtoReader, tag: ProtoTag, field: string): { bytes: Uint8Array; base: number } {
  expect(tag, WireType.LengthDelimited, field);
  const bytes = reader.readLengthDelimited(field);
  return { bytes, base: reader.baseOffset + reader.pos - bytes.length };
}

function varintNumber(reader: ProtoReader, tag: ProtoTag, field: string): number {
  expect(tag, WireType.Varint, field);
  const value = reader.readVarint(field);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodeError("E_DECODE_LIMIT", `${field} ${value} is above 2^53`, { field, offset: tag.offset });
  return Number(value);
}

function decodeEmbeddedMessage(bytes: Uint8Array, base: number, field: string, ctx: SnapshotDecodeContext): SdsMessage {
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

/** How an `UnacknowledgedMessage` row avoids storing bytes twice (our rows only, never blobs). */
export interface UnacknowledgedRowOptions {
  /** The message's nim bytes, when already encoded. */
  messageBytes?: Uint8Array;
  /** The identical message is in the channel's `sds.log` row: store a reference, not the bytes. */
  messageInLog?: boolean;
  /** Store `wire` as prefix and suffix around the message's bloom filter bytes when it holds them. */
  splitWire?: boolean;
}

/** Where a message's bloom filter bytes sit inside `wire`, if they do (worth splitting only when large). */
export function bloomOffsetInWire(message: SdsMessage, wire: Uint8Array): number {
  const bloom = message.bloomFilter;
  if (bloom == null || bloom.length < 64 || wire.length < bloom.length) return -1;
  return Buffer.from(wire.buffer, wire.byteOffset, wire.byteLength).indexOf(Buffer.from(bloom.buffer, bloom.byteOffset, bloom.byteLength));
}

/** Sub-message codec of `ChannelMeta`, also the body of our per-entry rows (see {@link UnacknowledgedRowOptions}). */
export function encodeUnacknowledged(entry: UnacknowledgedMessage, options: UnacknowledgedRowOptions = {}): Uint8Array {
  const writer = new ProtoWriter();
  if (options.messageInLog === true) writer.uint64Field(EXT + 20, 1);
  else writer.bytesField(1, options.messageBytes ?? encodeNimMessage(entry.message));
  writer.uint64Field(2, entry.sendTimeMs).uint64Field(3, entry.resendAttempts);
  const presence = messageAbsenceFlags(entry.message);
  if (presence !== 0) writer.uint64Field(EXT + 10, presence);
  if (entry.possibleAckCount != null) writer.uint64Field(EXT, entry.possibleAckCount);
  if (entry.wire != null) {
    const at = options.splitWire === true ? bloomOffsetInWire(entry.message, entry.wire) : -1;
    if (at < 0) writer.bytesField(EXT + 1, entry.wire);
    else writer.bytesField(EXT + 21, entry.wire.subarray(0, at)).bytesField(EXT + 22, entry.wire.subarray(at + (entry.message.bloomFilter as Uint8Array).length));
  }
  return writer.finish();
}

/** Sub-message codec of `ChannelMeta`, also the body of our per-entry rows. */
export function decodeUnacknowledged(bytes: Uint8Array, base: number, field: string, ctx: SnapshotDecodeContext): UnacknowledgedMessage {
  const reader = new ProtoReader(bytes, { baseOffset: base });
  let message: SdsMessage | undefined;
  let sendTimeMs: number | undefined;
  const out: Partial<UnacknowledgedMessage> = { resendAttempts: 0 };
  let absence = 0;
  let inLog = false;
  let wireParts: [Uint8Array | undefined, Uint8Array | undefined] = [undefined, undefined];
  while (!reader.eof()) {
    const tag = reader.readTag(field);
    if (tag.field === 1) {
      const inner = embedded(reader, tag, `${field}.message`);
      message = decodeEmbeddedMessage(inner.bytes, inner.base, `${field}.message`, ctx);
    } else if (tag.field === 2) sendTimeMs = varintNumber(reader, tag, `${field}.sendTime`);
    else if (tag.field === 3) out.resendAttempts = varintNumber(reader, tag, `${field}.resendAttempts`);
    else if (tag.field === EXT) out.possibleAckCount = varintNumber(reader, tag, `${field}.possibleAckCount`);
    else if (tag.field === EXT + 1) out.wire = embedded(reader, tag, `${field}.wire`).bytes.slice();
    else if (tag.field === EXT + 10) absence = varintNumber(reader, tag, `${field}.absence`);
    else if (tag.field === EXT + 20) inLog = varintNumber(reader, tag, `${field}.messageInLog`) === 1;
    else if (tag.field === EXT + 21) wireParts = [embedded(reader, tag, `${field}.wirePrefix`).bytes, wireParts[1]];
    else if (tag.field === EXT + 22) wireParts = [wireParts[0], embedded(reader, tag, `${field}.wireSuffix`).bytes];
    else reader.skip(tag.wireType, `${field}.field${tag.field}`);
  }
  const end = base + bytes.length;
  if (message === undefined && inLog) {
    message = ctx.resolveMessage?.();
    if (message === undefined) throw new DecodeError("E_DECODE_MISSING_FIELD", "the message this entry refers to is not in sds.log", { field: `${field}.message`, offset: end });
  }
  if (message === undefined) throw new DecodeError("E_DECODE_MISSING_FIELD", "required field 1 is missing", { field: `${field}.message`, offset: end });
  if (wireParts[0] !== undefined || wireParts[1] !== undefined) {
    if (wireParts[0] === undefined || wireParts[1] === undefined || message.bloomFilter == null) throw new DecodeError("E_DECODE_MISSING_FIELD", "split wire bytes are incomplete", { field: `${field}.wire`, offset: end });
    const bloom = message.bloomFilter;
    const wire = new Uint8Array(wireParts[0].length + bloom.length + wireParts[1].length);
    wire.set(wireParts[0]);
    wire.set(bloom, wireParts[0].length);
    wire.set(wireParts[1], wireParts[0].length + bloom.length);
    out.wire = wire;
  }
  if (sendTimeMs === undefined) throw new DecodeError("E_DECODE_MISSING_FIELD", "required field 2 is missing", { field: `${field}.sendTime`, offset: end });
  return { ...out, message: applyAbsenceFlags(message, absence), sendTimeMs, resendAttempts: out.resendAttempts ?? 0 };
}

/** Sub-message codec of `ChannelMeta`, also the body of our per-entry rows. */
export function encodeIncoming(entry: IncomingMessage): Uint8Array {
  const writer = new ProtoWriter().bytesField(1, encodeNimMessage(entry.message));
  for (const dep of entry.missingDeps) writer.stringField(2, dep);
  if (entry.receivedAtMs != null) writer.uint64Field(EXT, entry.receivedAtMs);
  if (entry.retrievalHint != null) writer.bytesField(EXT + 1, entry.retrievalHint);
  const presence = messageAbsenceFlags(entry.message);
  if (presence !== 0) writer.uint64Field(EXT + 10, presence);
  return writer.finish();
}

/** Sub-message codec of `ChannelMeta`, also the body of our per-entry rows. */
export function decodeIncoming(bytes: Uint8Array, base: number, field: string, ctx: SnapshotDecodeContext): IncomingMessage {
  const reader = new ProtoReader(bytes, { baseOffset: base });
  let message: SdsMessage | undefined;
  const out: Partial<IncomingMessage> = {};
  const missingDeps: string[] = [];
  let absence = 0;
  while (!reader.eof()) {
    const tag = reader.readTag(field);
    if (tag.field === 1) {
      const inner = embedded(reader, tag, `${field}.message`);
      message = decodeEmbeddedMessage(inner.bytes, inner.base, `${field}.message`, ctx);
    } else if (tag.field === 2) {
      expect(tag, WireType.LengthDelimited, `${field}.missingDeps`);
      if (missingDeps.length >= ctx.limits.bufferEntriesMax) throw new DecodeError("E_DECODE_LIMIT", "too many missingDeps", { field: `${field}.missingDeps`, offset: tag.offset });
      missingDeps.push(readString(reader, `${field}.missingDeps[${missingDeps.length}]`));
    } else if (tag.field === EXT) out.receivedAtMs = varintNumber(reader, tag, `${field}.receivedAtMs`);
    else if (tag.field === EXT + 1) out.retrievalHint = embedded(reader, tag, `${field}.retrievalHint`).bytes.slice();
    else if (tag.field === EXT + 10) absence = varintNumber(reader, tag, `${field}.absence`);
    else reader.skip(tag.wireType, `${field}.field${tag.field}`);
  }
  if (message === undefined) throw new DecodeError("E_DECODE_MISSING_FIELD", "required field 1 is missing", { field: `${field}.message`, offset: base + bytes.length });
  return { ...out, message: applyAbsenceFlags(message, absence), missingDeps };
}

/** Sub-message codec of `ChannelMeta`, also the body of our per-entry rows. */
export function encodeOutgoingRepair(entry: OutgoingRepairEntry): Uint8Array {
  const inner = new ProtoWriter().bytesField(1, encodeHistoryEntry(entry.entry)).uint64Field(2, entry.minTimeRepairReqMs);
  if (entry.attempts != null) inner.uint64Field(EXT, entry.attempts);
  if (entry.firstMissingAtMs != null) inner.uint64Field(EXT + 1, entry.firstMissingAtMs);
  return new ProtoWriter().stringField(1, entry.entry.messageId).bytesField(2, inner.finish()).finish();
}

/** Sub-message codec of `ChannelMeta`, also the body of our per-entry rows. */
export function encodeIncomingRepair(entry: IncomingRepairEntry): Uint8Array {
  const inner = new ProtoWriter().bytesField(1, encodeHistoryEntry(entry.entry)).bytesField(2, entry.cachedMessage).uint64Field(3, entry.minTimeRepairRespMs);
  return new ProtoWriter().stringField(1, entry.entry.messageId).bytesField(2, inner.finish()).finish();
}

/** Decodes a repair KV (`{1: messageId, 2: entry}`) and its entry with `decodeEntry`. */
function decodeRepairKv<T>(bytes: Uint8Array, base: number, field: string, decodeEntry: (reader: ProtoReader, tag: ProtoTag, values: Record<string, unknown>) => void, build: (values: Record<string, unknown>, end: number) => T): T {
  const reader = new ProtoReader(bytes, { baseOffset: base });
  let messageId: string | undefined;
  let entryBytes: { bytes: Uint8Array; base: number } | undefined;
  while (!reader.eof()) {
    const tag = reader.readTag(field);
    if (tag.field === 1) messageId = (expect(tag, WireType.LengthDelimited, `${field}.messageId`), readString(reader, `${field}.messageId`));
    else if (tag.field === 2) entryBytes = embedded(reader, tag, `${field}.entry`);
    else reader.skip(tag.wireType, `${field}.field${tag.field}`);
  }
  const end = base + bytes.length;
  if (messageId === undefined) throw new DecodeError("E_DECODE_MISSING_FIELD", "required field 1 is missing", { field: `${field}.messageId`, offset: end });
  if (entryBytes === undefined) throw new DecodeError("E_DECODE_MISSING_FIELD", "required field 2 is missing", { field: `${field}.entry`, offset: end });
  const inner = new ProtoReader(entryBytes.bytes, { baseOffset: entryBytes.base });
  const values: Record<string, unknown> = { messageId };
  while (!inner.eof()) decodeEntry(inner, inner.readTag(`${field}.entry`), values);
  return build(values, entryBytes.base + entryBytes.bytes.length);
}

function missing(field: string, end: number): DecodeError {
  return new DecodeError("E_DECODE_MISSING_FIELD", "required field is missing", { field, offset: end });
}

/** Sub-message codec of `ChannelMeta`, also the body of our per-entry rows. */
export function decodeOutgoingRepair(bytes: Uint8Array, base: number, field: string): OutgoingRepairEntry {
  return decodeRepairKv(
    bytes,
    base,
    field,
    (reader, tag, values) => {
      if (tag.field === 1) {
        const inner = embedded(reader, tag, `${field}.histEntry`);
        values.entry = decodeHistoryEntry(inner.bytes, inner.base, `${field}.histEntry`);
      } else if (tag.field === 2) values.minTimeRepairReqMs = varintNumber(reader, tag, `${field}.minTimeRepairReq`);
      else if (tag.field === EXT) values.attempts = varintNumber(reader, tag, `${field}.attempts`);
      else if (tag.field === EXT + 1) values.firstMissingAtMs = varintNumber(reader, tag, `${field}.firstMissingAtMs`);
      else reader.skip(tag.wireType, `${field}.entry.field${tag.field}`);
    },
    (values, end) => {
      if (values.entry === undefined) throw missing(`${field}.histEntry`, end);
      if (values.minTimeRepairReqMs === undefined) throw missing(`${field}.minTimeRepairReq`, end);
      const out: OutgoingRepairEntry = { entry: values.entry as HistoryEntry, minTimeRepairReqMs: values.minTimeRepairReqMs as number };
      if (values.attempts !== undefined) out.attempts = values.attempts as number;
      if (values.firstMissingAtMs !== undefined) out.firstMissingAtMs = values.firstMissingAtMs as number;
      return out;
    },
  );
}

/** Sub-message codec of `ChannelMeta`, also the body of our per-entry rows. */
export function decodeIncomingRepair(bytes: Uint8Array, base: number, field: string): IncomingRepairEntry {
  return decodeRepairKv(
    bytes,
    base,
    field,
    (reader, tag, values) => {
      if (tag.field === 1) {
        const inner = embedded(reader, tag, `${field}.histEntry`);
        values.entry = decodeHistoryEntry(inner.bytes, inner.base, `${field}.histEntry`);
      } else if (tag.field === 2) values.cachedMessage = embedded(reader, tag, `${field}.cachedMessage`).bytes.slice();
      else if (tag.field === 3) values.minTimeRepairRespMs = varintNumber(reader, tag, `${field}.minTimeRepairResp`);
      else reader.skip(tag.wireType, `${field}.entry.field${tag.field}`);
    },
    (values, end) => {
      if (values.entry === undefined) throw missing(`${field}.histEntry`, end);
      if (values.cachedMessage === undefined) throw missing(`${field}.cachedMessage`, end);
      if (values.minTimeRepairRespMs === undefined) throw missing(`${field}.minTimeRepairResp`, end);
      return { entry: values.entry as HistoryEntry, cachedMessage: values.cachedMessage as Uint8Array, minTimeRepairRespMs: values.minTimeRepairRespMs as number };
    },
  );
}

/** Our extras in a `ChannelMeta` blob (field 100+, skipped by nim). */
export interface ChannelMetaExtras {
  /** Next insertion sequence of the channel's buffer rows (our row layout). */
  nextSequence?: bigint;
}

/** Encodes a `ChannelMeta` blob (nim layout, schemaVersion 1), with our extras appended. */
export function encodeChannelMeta(meta: ChannelMeta, extras: ChannelMetaExtras = {}): Uint8Array {
  const writer = new ProtoWriter().uint64Field(1, CHANNEL_META_SCHEMA_VERSION).uint64Field(2, meta.lamportTimestamp);
  for (const entry of meta.outgoingBuffer) writer.bytesField(3, encodeUnacknowledged(entry));
  for (const entry of meta.incomingBuffer) writer.bytesField(4, encodeIncoming(entry));
  for (const entry of meta.outgoingRepairBuffer) writer.bytesField(5, encodeOutgoingRepair(entry));
  for (const entry of meta.incomingRepairBuffer) writer.bytesField(6, encodeIncomingRepair(entry));
  if (extras.nextSequence !== undefined) writer.uint64Field(EXT, extras.nextSequence);
  return writer.finish();
}

/** Reads our extras from a `ChannelMeta` blob (top-level fields only). Throws `DecodeError`. */
export function decodeChannelMetaExtras(bytes: Uint8Array): ChannelMetaExtras {
  const reader = new ProtoReader(bytes);
  const extras: ChannelMetaExtras = {};
  while (!reader.eof()) {
    const tag = reader.readTag("ChannelMeta");
    if (tag.field === EXT && tag.wireType === WireType.Varint) extras.nextSequence = reader.readVarint("ChannelMeta.nextSequence");
    else reader.skip(tag.wireType, `ChannelMeta.field${tag.field}`);
  }
  return extras;
}

function checkCount(count: number, max: number, field: string, offset: number): void {
  if (count > max) throw new DecodeError("E_DECODE_LIMIT", `more than ${max} entries`, { field, offset }, { max });
}

/**
 * Decodes a `ChannelMeta` blob. Throws `DecodeError`; a schemaVersion other than 1 (or a
 * missing one) is `E_SNAPSHOT_VERSION` / `E_DECODE_MISSING_FIELD`, never a partial read.
 */
export function decodeChannelMeta(bytes: Uint8Array, limits: SnapshotLimits = DEFAULT_SNAPSHOT_LIMITS, base = 0): ChannelMeta {
  const ctx: SnapshotDecodeContext = { base, limits };
  const reader = new ProtoReader(bytes, { baseOffset: base });
  let version: bigint | undefined;
  let lamport: bigint | undefined;
  const meta: ChannelMeta = { schemaVersion: 1, lamportTimestamp: 0n, outgoingBuffer: [], incomingBuffer: [], outgoingRepairBuffer: [], incomingRepairBuffer: [] };
  while (!reader.eof()) {
    const tag = reader.readTag("ChannelMeta");
    if (tag.field === 1) {
      expect(tag, WireType.Varint, "ChannelMeta.schemaVersion");
      version = reader.readVarint("ChannelMeta.schemaVersion");
      if (version !== BigInt(CHANNEL_META_SCHEMA_VERSION)) {
        throw new DecodeError("E_SNAPSHOT_VERSION", `ChannelMeta.schemaVersion ${version} is not supported (this build reads ${CHANNEL_META_SCHEMA_VERSION})`, { field: "ChannelMeta.schemaVersion", offset: tag.offset }, { schemaVersion: version.toString() });
      }
    } else if (tag.field === 2) {
      expect(tag, WireType.Varint, "ChannelMeta.lamportTimestamp");
      lamport = reader.readVarint("ChannelMeta.lamportTimestamp");
    } else if (tag.field >= 3 && tag.field <= 6) {
      const lists = [meta.outgoingBuffer, meta.incomingBuffer, meta.outgoingRepairBuffer, meta.incomingRepairBuffer] as unknown[][];
      const names = ["outgoingBuffer", "incomingBuffer", "outgoingRepairBuffer", "incomingRepairBuffer"];
      const list = lists[tag.field - 3] as unknown[];
      const field = `ChannelMeta.${names[tag.field - 3]}[${list.length}]`;
      checkCount(list.length + 1, limits.bufferEntriesMax, field, tag.offset);
      const inner = embedded(reader, tag, field);
      if (tag.field === 3) list.push(decodeUnacknowledged(inner.bytes, inner.base, field, ctx));
      else if (tag.field === 4) list.push(decodeIncoming(inner.bytes, inner.base, field, ctx));
      else if (tag.field === 5) list.push(decodeOutgoingRepair(inner.bytes, inner.base, field));
      else list.push(decodeIncomingRepair(inner.bytes, inner.base, field));
    } else reader.skip(tag.wireType, `ChannelMeta.field${tag.field}`);
  }
  const end = base + bytes.length;
  if (version === undefined) throw new DecodeError("E_DECODE_MISSING_FIELD", "ChannelMeta.schemaVersion is missing", { field: "ChannelMeta.schemaVersion", offset: end });
  if (lamport === undefined) throw missing("ChannelMeta.lamportTimestamp", end);
  meta.lamportTimestamp = lamport;
  return meta;
}

/** Encodes `ChannelData` (`{1: meta, 2: repeated message}`; history oldest first). */
export function encodeChannelData(data: ChannelData): Uint8Array {
  const writer = new ProtoWriter().bytesField(1, encodeChannelMeta(data.meta));
  for (const message of data.history) writer.bytesField(2, encodeNimMessage(message));
  return writer.finish();
}

/** Decodes `ChannelData`. Throws `DecodeError`. */
export function decodeChannelData(bytes: Uint8Array, limits: SnapshotLimits = DEFAULT_SNAPSHOT_LIMITS): ChannelData {
  const reader = new ProtoReader(bytes);
  let meta: ChannelMeta | undefined;
  const history: SdsMessage[] = [];
  const ctx: SnapshotDecodeContext = { base: 0, limits };
  while (!reader.eof()) {
    const tag = reader.readTag("ChannelData");
    if (tag.field === 1) {
      const inner = embedded(reader, tag, "ChannelData.meta");
      meta = decodeChannelMeta(inner.bytes, limits, inner.base);
    } else if (tag.field === 2) {
      checkCount(history.length + 1, limits.historyEntriesMax, "ChannelData.messageHistory", tag.offset);
      const inner = embedded(reader, tag, `ChannelData.messageHistory[${history.length}]`);
      history.push(decodeEmbeddedMessage(inner.bytes, inner.base, `ChannelData.messageHistory[${history.length}]`, ctx));
    } else reader.skip(tag.wireType, `ChannelData.field${tag.field}`);
  }
  if (meta === undefined) throw missing("ChannelData.meta", bytes.length);
  return { meta, history };
}

/** Encodes `HistoryUpdate` (`{1: repeated append message, 2: repeated evict id}`). */
export function encodeHistoryUpdate(update: HistoryUpdate): Uint8Array {
  const writer = new ProtoWriter();
  for (const message of update.append) writer.bytesField(1, encodeNimMessage(message));
  for (const id of update.evict) writer.stringField(2, id);
  return writer.finish();
}

/** Decodes `HistoryUpdate`. Throws `DecodeError`. */
export function decodeHistoryUpdate(bytes: Uint8Array, limits: SnapshotLimits = DEFAULT_SNAPSHOT_LIMITS): HistoryUpdate {
  const reader = new ProtoReader(bytes);
  const update: HistoryUpdate = { append: [], evict: [] };
  const ctx: SnapshotDecodeContext = { base: 0, limits };
  while (!reader.eof()) {
    const tag = reader.readTag("HistoryUpdate");
    if (tag.field === 1) {
      checkCount(update.append.length + 1, limits.historyEntriesMax, "HistoryUpdate.append", tag.offset);
      const inner = embedded(reader, tag, `HistoryUpdate.append[${update.append.length}]`);
      update.append.push(decodeEmbeddedMessage(inner.bytes, inner.base, `HistoryUpdate.append[${update.append.length}]`, ctx));
    } else if (tag.field === 2) {
      expect(tag, WireType.LengthDelimited, "HistoryUpdate.evict");
      checkCount(update.evict.length + 1, limits.historyEntriesMax, "HistoryUpdate.evict", tag.offset);
      update.evict.push(readString(reader, `HistoryUpdate.evict[${update.evict.length}]`));
    } else reader.skip(tag.wireType, `HistoryUpdate.field${tag.field}`);
  }
  return update;
}
