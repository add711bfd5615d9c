/**
 * The `nim` dialect codec, byte-identical to nim-sds `sds/protobuf.nim` (libp2p minprotobuf):
 * fields 1 message_id, 2 lamport_timestamp (uint64 varint), 4 channel_id, 5 content and
 * 6 bloom_filter are always written (even empty); 3 causal_history and 13 repair_request
 * one entry each; 7 sender_id only when non-empty. HistoryEntry: 1 always, 2 and 3 only
 * when non-empty. Decoding requires 1, 2, 4 and 5 (and HistoryEntry 1); 6, 7, 13 optional;
 * unknown fields are skipped. nim has no ephemeral messages: a message without a lamport
 * timestamp cannot be written in this dialect.
 */
import { SdsError } from "../../errors.js";
import type { HistoryEntry, SdsMessage } from "../types.js";
import { checkEntryCount, missingField, readBytesCopy, readEmbedded, readIdString, readUint64 } from "./fields.js";
import type { DecodeLimits } from "./limits.js";
import { ProtoReader, ProtoWriter } from "./proto.js";
import { encodeUtf8 } from "./text.js";

/** Field numbers of nim-sds `SdsMessage` (reconstructed from protobuf.nim). */
export const NIM_FIELDS = {
  messageId: 1,
  lamportTimestamp: 2,
  causalHistory: 3,
  channelId: 4,
  content: 5,
  bloomFilter: 6,
  senderId: 7,
  repairRequest: 13,
} as const;

function encodeNimEntry(entry: HistoryEntry, field: string): Uint8Array {
  const writer = new ProtoWriter().bytesField(1, encodeUtf8(entry.messageId, `${field}.messageId`));
  if (entry.retrievalHint != null && entry.retrievalHint.length > 0) writer.bytesField(2, entry.retrievalHint);
  if (entry.senderId != null && entry.senderId !== "") writer.bytesField(3, encodeUtf8(entry.senderId, `${field}.senderId`));
  return writer.finish();
}

/** Encodes `message` in the nim dialect (field order 1, 2, 3…, 4, 5, 6, 7, 13…). */
export function encodeNim(message: SdsMessage): Uint8Array {
  if (message.lamportTimestamp == null) {
    throw new SdsError("E_INPUT_INVALID", "the nim dialect has no ephemeral messages: lamportTimestamp is required", { field: "lamportTimestamp", dialect: "nim" });
  }
  const writer = new ProtoWriter()
    .bytesField(NIM_FIELDS.messageId, encodeUtf8(message.messageId, "messageId"))
    .uint64Field(NIM_FIELDS.lamportTimestamp, message.lamportTimestamp);
  message.causalHistory.forEach((entry, index) => {
    writer.bytesField(NIM_FIELDS.causalHistory, encodeNimEntry(entry, `causalHistory[${index}]`));
  });
  writer
    .bytesField(NIM_FIELDS.channelId, encodeUtf8(message.channelId, "channelId"))
    .bytesField(NIM_FIELDS.content, message.content ?? new Uint8Array())
    .bytesField(NIM_FIELDS.bloomFilter, message.bloomFilter ?? new Uint8Array());
  if (message.senderId !== "") writer.bytesField(NIM_FIELDS.senderId, encodeUtf8(message.senderId, "senderId"));
  message.repairRequest.forEach((entry, index) => {
    writer.bytesField(NIM_FIELDS.repairRequest, encodeNimEntry(entry, `repairRequest[${index}]`));
  });
  return writer.finish();
}

function decodeNimEntry(bytes: Uint8Array, baseOffset: number, field: string, limits: DecodeLimits): HistoryEntry {
  const reader = new ProtoReader(bytes, { baseOffset });
  let messageId: string | undefined;
  const entry: Partial<HistoryEntry> = {};
  while (!reader.eof()) {
    const tag = reader.readTag(field);
    if (tag.field === 1) messageId = readIdString(reader, tag, `${field}.messageId`, limits);
    else if (tag.field === 2) entry.retrievalHint = readBytesCopy(reader, tag, `${field}.retrievalHint`, "retrievalHintBytesMax", limits.retrievalHintBytesMax);
    else if (tag.field === 3) entry.senderId = readIdString(reader, tag, `${field}.senderId`, limits);
    else reader.skip(tag.wireType, `${field}.field${tag.field}`);
  }
  if (messageId === undefined) throw missingField(`${field}.messageId`, baseOffset, 1);
  return { messageId, ...entry };
}

interface NimPresence {
  messageId?: string;
  lamportTimestamp?: bigint;
  channelId?: string;
  content?: Uint8Array;
}

/**
 * Decodes nim-dialect bytes. `baseOffset` is where `bytes` starts in the caller's input.
 * Throws `DecodeError` only; the caller has already checked `wireBytesMax`.
 */
export function decodeNim(bytes: Uint8Array, limits: DecodeLimits, baseOffset = 0): SdsMessage {
  const reader = new ProtoReader(bytes, { baseOffset });
  const required: NimPresence = {};
  const message: Omit<SdsMessage, "messageId" | "channelId"> = { senderId: "", causalHistory: [], repairRequest: [] };
  while (!reader.eof()) {
    const tag = reader.readTag("SdsMessage");
    switch (tag.field) {
      case NIM_FIELDS.messageId:
        required.messageId = readIdString(reader, tag, "messageId", limits);
        break;
      case NIM_FIELDS.lamportTimestamp:
        required.lamportTimestamp = readUint64(reader, tag, "lamportTimestamp");
        break;
      case NIM_FIELDS.channelId:
        required.channelId = readIdString(reader, tag, "channelId", limits);
        break;
      case NIM_FIELDS.content:
        required.content = readBytesCopy(reader, tag, "content", "contentBytesMax", limits.contentBytesMax);
        break;
      case NIM_FIELDS.bloomFilter:
        message.bloomFilter = readBytesCopy(reader, tag, "bloomFilter", "bloomBytesMax", limits.bloomBytesMax);
        break;
      case NIM_FIELDS.senderId:
        message.senderId = readIdString(reader, tag, "senderId", limits);
        break;
      case NIM_FIELDS.causalHistory:
      case NIM_FIELDS.repairRequest: {
        const list = tag.field === NIM_FIELDS.causalHistory ? message.causalHistory : message.repairRequest;
        const name = tag.field === NIM_FIELDS.causalHistory ? "causalHistory" : "repairRequest";
        const field = `${name}[${list.length}]`;
        checkEntryCount(list.length + 1, `${name}EntriesMax`, limits, { field, offset: tag.offset });
        const { bytes: entryBytes, offset } = readEmbedded(reader, tag, field);
        list.push(decodeNimEntry(entryBytes, offset, field, limits));
        break;
      }
      default:
        reader.skip(tag.wireType, `field${tag.field}`);
    }
  }
  const end = baseOffset + bytes.length;
  if (required.messageId === undefined) throw missingField("messageId", end, NIM_FIELDS.messageId);
  if (required.lamportTimestamp === undefined) throw missingField("lamportTimestamp", end, NIM_FIELDS.lamportTimestamp);
  if (required.channelId === undefined) throw missingField("channelId", end, NIM_FIELDS.channelId);
  if (required.content === undefined) throw missingField("content", end, NIM_FIELDS.content);
  return {
    ...message,
    messageId: required.messageId,
    channelId: required.channelId,
    lamportTimestamp: required.lamportTimestamp,
    content: required.content,
  };
}
