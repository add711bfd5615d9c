/**
 * Schema-less protobuf dump for `sds decode --raw`, a better `protoc --decode_raw`: every
 * field with its number, wire type, byte offset and length; length-delimited values shown
 * as text when they are printable UTF-8, else as a nested message when they parse as one
 * completely (up to `maxDepth`), else as bytes. A malformed field ends the dump at that
 * level with the typed error and its offset; the fields before it are kept. Never throws.
 */
import { DecodeError } from "../../errors.js";
import { wireTypeName } from "./fields.js";
import { ProtoReader, WireType } from "./proto.js";

/** One field of a schema-less dump. */
export interface DumpNode {
  field: number;
  wireType: number;
  /** `varint`, `fixed64`, `length-delimited` or `fixed32`. */
  wireTypeName: string;
  /** Absolute offset of the field's key. */
  offset: number;
  /** Bytes of the whole field, key and length prefix included. */
  length: number;
  /** Absolute offset and length of the value alone (after the length prefix for wire type 2). */
  valueOffset: number;
  valueLength: number;
  /** How the value is shown. */
  kind: "varint" | "fixed64" | "fixed32" | "string" | "message" | "bytes";
  /** varint/fixed: the unsigned integer; string: the text; bytes: the raw bytes; message: absent. */
  value?: bigint | string | Uint8Array;
  /** Nested fields when `kind` is `message`. */
  children?: DumpNode[];
}

/** A dump: the fields read, and the error that stopped reading, if any. */
export interface DumpResult {
  fields: DumpNode[];
  error?: DecodeError;
}

/** Options of {@link dumpProtobuf}. */
export interface DumpOptions {
  /** Deepest nesting level at which length-delimited values are tried as messages (default 8). */
  maxDepth?: number;
  /** Most nodes in the whole dump (default 100,000); beyond it the dump stops with `E_DECODE_LIMIT`. */
  nodesMax?: number;
}

const textDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Printable text: valid UTF-8 with no control characters other than tab, newline, carriage return. */
export function printableText(bytes: Uint8Array): string | undefined {
  let text: string;
  try {
    text = textDecoder.decode(bytes);
  } catch {
    return undefined;
  }
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/.test(text) ? undefined : text;
}

interface DumpState {
  nodes: number;
  nodesMax: number;
  maxDepth: number;
}

function readFields(bytes: Uint8Array, baseOffset: number, depth: number, state: DumpState): DumpResult {
  const reader = new ProtoReader(bytes, { baseOffset });
  const fields: DumpNode[] = [];
  try {
    while (!reader.eof()) {
      if (state.nodes >= state.nodesMax) {
        throw new DecodeError("E_DECODE_LIMIT", `more than ${state.nodesMax} fields`, { field: "dump", offset: reader.offset }, { limit: "nodesMax", max: state.nodesMax });
      }
      const tag = reader.readTag("field");
      const field = `field ${tag.field}`;
      const node = { field: tag.field, wireType: tag.wireType, wireTypeName: wireTypeName(tag.wireType), offset: tag.offset } as DumpNode;
      if (tag.wireType === WireType.Varint) {
        node.valueOffset = reader.offset;
        node.value = reader.readVarint(field);
        node.kind = "varint";
      } else if (tag.wireType === WireType.Fixed64 || tag.wireType === WireType.Fixed32) {
        node.valueOffset = reader.offset;
        const raw = reader.readRaw(tag.wireType === WireType.Fixed64 ? 8 : 4, field);
        node.value = raw.reduceRight((sum, byte) => sum * 256n + BigInt(byte), 0n);
        node.kind = tag.wireType === WireType.Fixed64 ? "fixed64" : "fixed32";
      } else {
        const value = reader.readLengthDelimited(field);
        node.valueOffset = reader.offset - value.length;
        describeLengthDelimited(node, value, depth, state);
      }
      node.valueLength = reader.offset - node.valueOffset;
      node.length = reader.offset - tag.offset;
      state.nodes += 1;
      fields.push(node);
    }
  } catch (error) {
    if (error instanceof DecodeError) return { fields, error };
    return { fields, error: new DecodeError("E_DECODE_INVALID", String(error), { field: "dump", offset: reader.offset }) };
  }
  return { fields };
}

function describeLengthDelimited(node: DumpNode, value: Uint8Array, depth: number, state: DumpState): void {
  const text = value.length > 0 ? printableText(value) : undefined;
  if (text !== undefined) {
    node.kind = "string";
    node.value = text;
    return;
  }
  if (value.length > 0 && depth < state.maxDepth) {
    const saved = state.nodes;
    const nested = readFields(value, node.valueOffset, depth + 1, state);
    if (nested.error === undefined && nested.fields.length > 0) {
      node.kind = "message";
      node.children = nested.fields;
      return;
    }
    state.nodes = saved;
  }
  node.kind = "bytes";
  node.value = value.slice();
}

/** Dumps any protobuf without a schema. Never throws; a malformed field ends its level with `error`. */
export function dumpProtobuf(bytes: Uint8Array, options: DumpOptions = {}): DumpResult {
  const state: DumpState = { nodes: 0, nodesMax: options.nodesMax ?? 100_000, maxDepth: options.maxDepth ?? 8 };
  if (!(bytes instanceof Uint8Array)) {
    return { fields: [], error: new DecodeError("E_DECODE_INVALID", "input is not a Uint8Array", { field: "dump", offset: 0 }) };
  }
  return readFields(bytes, 0, 0, state);
}
