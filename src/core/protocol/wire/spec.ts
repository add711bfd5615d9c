/**
 * The `spec` dialect codec: LIP-109 field numbers, byte-identical to `@waku/sds` 0.0.8
 * (its protons codec) in both directions. Presence rules: `sender_id`, `message_id`,
 * `channel_id` are skipped when empty; `lamport_timestamp`, `bloom_filter`, `content` are
 * written whenever set, even when empty; HistoryEntry `message_id` skipped when empty,
 * `retrieval_hint` / `sender_id` written iff set. No field is required on decode (absent
 * strings decode as ""), unknown fields are skipped, and a known field with the wrong
 * wire type is an error (protons would misread it silently).
 */
import type { HistoryEntry, SdsMessage } from "../types.js";
import { checkEntryCount, readBytesCopy, readEmbedded, readIdString, readUint64 } from "./fields.js";
import type { DecodeLimits } from "./limits.js";
import { ProtoReader, ProtoWriter } from "./proto.js";
import { encodeUtf8 } from "./text.js";

/** Field numbers of the spec dialect's `SdsMessage` (sds_message.proto). */
export const SPEC_FIELDS = {
  senderId: 1,
  messageId: 2,
  channelId: 3,
  lamportTimestamp: 10,
  causalHistory: 11,
  bloomFilter: 12,
  repairRequest: 13,
  content: 20,
} as const;

/** Field numbers of `HistoryEntry`, shared by both dialects. */
export const HISTORY_ENTRY_FIELDS = { messageId: 1, retrievalHint: 2, senderId: 3 } as const;

function encodeSpecEntry(entry: HistoryEntry, field: string): Uint8Array {
  const writer = new ProtoWriter();
  if (entry.messageId !== "") writer.bytesField(1, encodeUtf8(entry.messageId, `${field}.messageId`));
  if (entry.retrievalHint != null) writer.bytesField(2, entry.retrievalHint);
  if (entry.senderId != null) writer.bytesField(3, encodeUtf8(entry.senderId, `${field}.senderId`));
  return writer.finish();
}

/** Encodes `message` in the spec dialect (field order 1, 2, 3, 10, 11…, 12, 13…, 20). */
export function encodeSpec(message: SdsMessage): Uint8Array {
  const writer = new ProtoWriter();
  if (message.senderId !== "") writer.bytesField(SPEC_FIELDS.senderId, encodeUtf8(message.senderId, "senderId"));
  if (message.messageId !== "") writer.bytesField(SPEC_FIELDS.messageId, encodeUtf8(message.messageId, "messageId"));
  if (message.channelId !== "") writer.bytesField(SPEC_FIELDS.channelId, encodeUtf8(message.channelId, "channelId"));
  if (message.lamportTimestamp != null) writer.uint64Field(SPEC_FIELDS.lamportTimestamp, message.lamportTimestamp);
  message.causalHistory.forEach((entry, index) => {
    writer.bytesField(SPEC_FIELDS.causalHistory, encodeSpecEntry(entry, `causalHistory[${index}]`));
  });
  if (message.bloomFilter != null) writer.bytesField(SPEC_FIELDS.bloomFilter, message.bloomFilter);
  message.repairRequest.forEach((entry, index) => {
    writer.bytesField(SPEC_FIELDS.repairRequest, encodeSpecEntry(entry, `repairRequest[${index}]`));
  });
  if (message.content != null) writer.bytesField(SPEC_FIELDS.content, message.content);
  return writer.finish();
}

function decodeSpecEntry(bytes: Uint8Array, baseOffset: number, field: string, limits: DecodeLimits): HistoryEntry {
  const reader = new ProtoReader(bytes, { baseOffset });
  const entry: HistoryEntry = { messageId: "" };
  while (!reader.eof()) {
    const tag = reader.readTag(field);
    switch (tag.field) {
      case 1:
        entry.messageId = readIdString(reader, tag, `${field}.messageId`, limits);
        break;
      case 2:
        entry.retrievalHint = readBytesCopy(reader, tag, `${field}.retrievalHint`, "retrievalHintBytesMax", limits.retrievalHintBytesMax);
        break;
      case 3:
        entry.senderId = readIdString(reader, tag, `${field}.senderId`, limits);
        break;
      default:
        reader.skip(tag.wireType, `${field}.field${tag.field}`);
    }
  }
  return entry;
}

/**
 * Decodes spec-dialect bytes. `baseOffset` is where `bytes` starts in the caller's input.
 * Throws `DecodeError` only; the caller has already checked `wireBytesMax`.
 */
export function decodeSpec(bytes: Uint8Array, limits: DecodeLimits, baseOffset = 0): SdsMessage {
  const reader = new ProtoReader(bytes, { baseOffset });
  const message: SdsMessage = { senderId: "", messageId: "", channelId: "", causalHistory: [], repairRequest: [] };
  while (!reader.eof()) {
    const tag = reader.readTag("SdsMessage");
    switch (tag.field) {
      case SPEC_FIELDS.senderId:
        message.senderId = readIdString(reader, tag, "senderId", limits);
        break;
      case SPEC_FIELDS.messageId:
        message.messageId = readIdString(reader, tag, "messageId", limits);
        break;
      case SPEC_FIELDS.channelId:
        message.channelId = readIdString(reader, tag, "channelId", limits);
        break;
      case SPEC_FIELDS.lamportTimestamp:
        message.lamportTimestamp = readUint64(reader, tag, "lamportTimestamp");
        break;
      case SPEC_FIELDS.causalHistory:
      case SPEC_FIELDS.repairRequest: {
        const list = tag.field === SPEC_FIELDS.causalHistory ? message.causalHistory : message.repairRequest;
        const name = tag.field === SPEC_FIELDS.causalHistory ? "causalHistory" : "repairRequest";
        const field = `${name}[${list.length}]`;
        checkEntryCount(list.length + 1, `${name}EntriesMax`, limits, { field, offset: tag.offset });
        const { bytes: entryBytes, offset } = readEmbedded(reader, tag, field);
        list.push(decodeSpecEntry(entryBytes, offset, field, limits));
        break;
      }
      case SPEC_FIELDS.bloomFilter:
        message.bloomFilter = readBytesCopy(reader, tag, "bloomFilter", "bloomBytesMax", limits.bloomBytesMax);
        break;
      case SPEC_FIELDS.content:
        message.content = readBytesCopy(reader, tag, "content", "contentBytesMax", limits.contentBytesMax);
        break;
      default:
        reader.skip(tag.wireType, `field${tag.field}`);
    }
  }
  return message;
}
