/**
 * The nim-sds snapshot codec (`sds/snapshot_codec.nim`, research/sds-protocol.md §5):
 * `ChannelMeta` (schemaVersion 1, refused loudly otherwise), `ChannelData` and
 * `HistoryUpdate`, with embedded messages in the nim wire layout and times as uint64
 * varints of Unix milliseconds. Our extension fields (possible-ack count, published bytes,
 * receive time, …) use field numbers from 100 up, which nim's decoder skips, so a blob we
 * write stays readable there and one nim wrote reads here with those fields absent.
 */
import { DecodeError } from "../errors.js";
import { ProtoReader, ProtoWriter, WireType } from "../protocol/wire/proto.js";
import type { SdsMessage } from "../protocol/types.js";
import type { ChannelData, ChannelMeta, HistoryUpdate } from "./contract.js";
import { decodeIncoming, decodeIncomingRepair, decodeOutgoingRepair, decodeUnacknowledged, encodeIncoming, encodeIncomingRepair, encodeOutgoingRepair, encodeUnacknowledged } from "./snapshot-entries.js";
import {
  CHANNEL_META_SCHEMA_VERSION,
  DEFAULT_SNAPSHOT_LIMITS,
  EXT,
  type SnapshotDecodeContext,
  type SnapshotLimits,
  decodeEmbeddedMessage,
  embedded,
  encodeNimMessage,
  expect,
  missing,
  readString,
} from "./snapshot-fields.js";

export * from "./snapshot-fields.js";
export * from "./snapshot-entries.js";

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
