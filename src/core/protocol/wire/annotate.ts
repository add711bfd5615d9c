/**
 * An annotated view of an SDS message for the `sds decode` tree: each field of the bytes,
 * in wire order, with its schema name in the given dialect, its absolute byte offset and
 * length, and its value (strings as text, integers as bigint, bytes as bytes, history
 * entries as children). Unknown fields appear as `unknown` with their raw value. Meant to be
 * called on bytes that already decoded; on malformed bytes it throws the `DecodeError`.
 */
import type { DialectName } from "../types.js";
import { readBoundedBytes, readEmbedded, readIdString, readUint64, wireTypeName } from "./fields.js";
import { type DecodeLimits, resolveLimits } from "./limits.js";
import { NIM_FIELDS } from "./nim.js";
import { ProtoReader, WireType } from "./proto.js";
import { SPEC_FIELDS } from "./spec.js";

/** One field of an annotated message. */
export interface AnnotatedField {
  /** Schema name (`senderId`, `causalHistory[0]`, `retrievalHint`) or `unknown`. */
  name: string;
  field: number;
  wireType: number;
  wireTypeName: string;
  /** Absolute offset of the field's key. */
  offset: number;
  /** Bytes of the whole field, key and length prefix included. */
  length: number;
  /** Strings as text, integers as bigint, bytes as bytes; absent for history entries. */
  value?: string | bigint | Uint8Array;
  /** The fields of a history entry. */
  children?: AnnotatedField[];
}

type FieldType = "string" | "uint64" | "entry" | "bloom" | "content" | "hint";

const ENTRY_SCHEMA: Record<number, [string, FieldType]> = { 1: ["messageId", "string"], 2: ["retrievalHint", "hint"], 3: ["senderId", "string"] };

function messageSchema(dialect: DialectName): Record<number, [string, FieldType]> {
  const fields = dialect === "spec" ? SPEC_FIELDS : NIM_FIELDS;
  return {
    [fields.senderId]: ["senderId", "string"],
    [fields.messageId]: ["messageId", "string"],
    [fields.channelId]: ["channelId", "string"],
    [fields.lamportTimestamp]: ["lamportTimestamp", "uint64"],
    [fields.causalHistory]: ["causalHistory", "entry"],
    [fields.bloomFilter]: ["bloomFilter", "bloom"],
    [fields.repairRequest]: ["repairRequest", "entry"],
    [fields.content]: ["content", "content"],
  };
}

function readUnknown(reader: ProtoReader, wireType: number, name: string): bigint | Uint8Array {
  if (wireType === WireType.Varint) return reader.readVarint(name);
  if (wireType === WireType.LengthDelimited) return reader.readLengthDelimited(name).slice();
  return reader.readRaw(wireType === WireType.Fixed64 ? 8 : 4, name).slice();
}

function walk(bytes: Uint8Array, baseOffset: number, schema: Record<number, [string, FieldType]>, prefix: string, limits: DecodeLimits): AnnotatedField[] {
  const reader = new ProtoReader(bytes, { baseOffset });
  const out: AnnotatedField[] = [];
  const counts = new Map<number, number>();
  while (!reader.eof()) {
    const tag = reader.readTag(prefix || "SdsMessage");
    const known = schema[tag.field];
    const node: AnnotatedField = { name: "unknown", field: tag.field, wireType: tag.wireType, wireTypeName: wireTypeName(tag.wireType), offset: tag.offset, length: 0 };
    if (!known) {
      node.value = readUnknown(reader, tag.wireType, `${prefix}field${tag.field}`);
    } else {
      const [baseName, type] = known;
      const index = counts.get(tag.field) ?? 0;
      const name = type === "entry" ? `${baseName}[${index}]` : baseName;
      counts.set(tag.field, index + 1);
      node.name = name;
      const path = `${prefix}${name}`;
      if (type === "string") node.value = readIdString(reader, tag, path, limits);
      else if (type === "uint64") node.value = readUint64(reader, tag, path);
      else if (type === "entry") {
        const { bytes: entry, offset } = readEmbedded(reader, tag, path);
        node.children = walk(entry, offset, ENTRY_SCHEMA, `${path}.`, limits);
      } else {
        const limitName = type === "bloom" ? "bloomBytesMax" : type === "hint" ? "retrievalHintBytesMax" : "contentBytesMax";
        node.value = readBoundedBytes(reader, path, limitName, limits[limitName]).bytes.slice();
      }
    }
    node.length = reader.offset - tag.offset;
    out.push(node);
  }
  return out;
}

/**
 * Annotates `bytes` as an SDS message of `dialect`, field by field in wire order.
 * `baseOffset` is the absolute offset of `bytes[0]` when the message sits inside an envelope.
 */
export function annotateMessage(bytes: Uint8Array, dialect: DialectName, limits?: Partial<DecodeLimits>, baseOffset = 0): AnnotatedField[] {
  return walk(bytes, baseOffset, messageSchema(dialect), "", resolveLimits(limits));
}
