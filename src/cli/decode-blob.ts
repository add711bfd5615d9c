/**
 * What `sds decode` does with one blob: decode it as an SDS message, a bloom filter, a Waku
 * envelope (with its payload decoded in turn) or a segment — or dump it without a schema —
 * and describe the result both as a JSON record (bigints as decimal strings, bytes as hex)
 * and as tree rows with byte offsets. Errors are returned, never thrown, so the command can
 * keep going past a bad blob. No I/O.
 */
import { DecodeError, SdsError } from "../core/errors.js";
import { BloomFilter } from "../core/protocol/bloom/index.js";
import type { DialectName, HistoryEntry, SdsMessage } from "../core/protocol/types.js";
import { annotateMessage, classifyMessage, decodeMessageWithDialect, dumpProtobuf, type DumpNode } from "../core/protocol/wire/index.js";
import { printableUtf8, rowsFromAnnotated, rowsFromDump, type TreeRow } from "./tree.js";
import { decodeEnvelope, isContentTopic, type WakuEnvelope } from "../core/relay/envelope.js";
import { decodeSegment, type Segment } from "../core/channel/segmentation.js";

/** What a blob is decoded as; `auto` tries envelope (with a valid content topic), message, segment, bloom. */
export type DecodeTarget = "message" | "bloom" | "envelope" | "segment" | "auto";

/** Per-blob decode options (from the command's flags). */
export interface BlobDecodeOptions {
  dialect: DialectName | "auto";
  what: DecodeTarget;
  raw: boolean;
  maxDepth: number;
  /** Receiver parameters for spec-dialect bloom filters (their bytes carry none). */
  bloom: { capacity?: number; errorRate?: number };
  /** Values longer than this are cut in tree rows (0 = never). */
  bytesShownMax: number;
  /**
   * Whether to build tree rows (default true). JSON output needs only the record; skipping
   * the rows saves a second walk over every message's bytes (`rows` is then empty).
   */
  rows?: boolean;
}

/** The outcome for one blob: a JSON record, tree rows with a title, and the error if it failed. */
export interface BlobResult {
  record: Record<string, unknown>;
  title: string;
  /** A second, dimmed line under the title (how the dialect was decided). */
  note?: string;
  rows: TreeRow[];
  error?: SdsError;
}

/** Hex of bytes, for JSON. */
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

function entryJson(entry: HistoryEntry): Record<string, unknown> {
  return {
    messageId: entry.messageId,
    ...(entry.retrievalHint !== undefined ? { retrievalHint: hex(entry.retrievalHint) } : {}),
    ...(entry.senderId !== undefined ? { senderId: entry.senderId } : {}),
  };
}

/** A message as JSON: bigint as decimal string, bytes as hex, content also as text when printable. */
export function messageJson(message: SdsMessage): Record<string, unknown> {
  const contentText = message.content ? printableUtf8(message.content) : undefined;
  return {
    senderId: message.senderId,
    messageId: message.messageId,
    channelId: message.channelId,
    ...(message.lamportTimestamp !== undefined ? { lamportTimestamp: message.lamportTimestamp.toString() } : {}),
    causalHistory: message.causalHistory.map(entryJson),
    ...(message.bloomFilter !== undefined ? { bloomFilter: hex(message.bloomFilter) } : {}),
    ...(message.content !== undefined ? { content: hex(message.content) } : {}),
    ...(contentText !== undefined ? { contentText } : {}),
    repairRequest: message.repairRequest.map(entryJson),
  };
}

function errorJson(error: SdsError): Record<string, unknown> {
  return {
    code: error.code,
    message: error.message,
    ...(error instanceof DecodeError ? { field: error.field, offset: error.offset } : {}),
  };
}

/** Summary of a bloom filter read with `dialect`'s framing, or the reason it cannot be read. */
function bloomSummary(bytes: Uint8Array, dialect: DialectName, options: BlobDecodeOptions, baseOffset = 0): { summary?: Record<string, unknown>; error?: SdsError } {
  try {
    const filter = BloomFilter.fromBytes(bytes, { dialect, ...options.bloom, baseOffset });
    const { capacity, errorRate, kHashes, mBits, hashFamily } = filter.params;
    return { summary: { dialect, capacity, errorRate, kHashes, mBits, hashFamily, words: filter.wordCount, bitsSet: filter.bitCount, bytes: bytes.length } };
  } catch (error) {
    if (error instanceof SdsError) return { error };
    throw error;
  }
}

function bloomText(summary: Record<string, unknown>): string {
  return `${String(summary.bytes)} bytes, ${String(summary.dialect)} filter: k=${String(summary.kHashes)}, m=${String(summary.mBits)} bits, ${String(summary.bitsSet)} set, capacity ${String(summary.capacity)}`;
}

/** Decodes `bytes` as an SDS message; `baseOffset` places it inside an outer frame. */
function asMessage(bytes: Uint8Array, options: BlobDecodeOptions, baseOffset = 0, depth = 0): BlobResult {
  const { message, dialect, detection } = decodeMessageWithDialect(bytes, { dialect: options.dialect, baseOffset });
  const kind = classifyMessage(message);
  const record: Record<string, unknown> = { type: "message", dialect, detection, kind, message: messageJson(message) };
  let bloomLine: string | undefined;
  if (message.bloomFilter !== undefined && message.bloomFilter.length > 0) {
    const { summary, error } = bloomSummary(message.bloomFilter, dialect, options);
    if (summary) {
      record.bloom = summary;
      bloomLine = bloomText(summary);
    } else if (error) record.bloomError = errorJson(error);
  }
  const title = `${dialect} ${kind} message`;
  const note = `${"  ".repeat(depth)}  dialect ${dialect}, ${detection.confidence}: ${detection.reason}`;
  // nested messages keep their rows: the segment inside their content is found through them
  if (options.rows === false && depth === 0) return { record, title, note, rows: [] };
  const fields = annotateMessage(bytes, dialect, undefined, baseOffset);
  const rows: TreeRow[] = [];
  for (const row of rowsFromAnnotated(fields, {
    bytesShownMax: options.bytesShownMax,
    describe: (field) => (field.name === "bloomFilter" && bloomLine !== undefined ? bloomLine : undefined),
  })) {
    rows.push({ ...row, depth: row.depth + depth });
    if (depth > 0 && row.name === "content" && message.content && message.content.length > 0) {
      const contentAt = row.offset + row.length - message.content.length;
      const segment = trySegment(message.content, options, contentAt, depth + 2);
      if (segment) {
        record.contentSegment = segment.record.segment;
        rows.push({ depth: depth + 1, offset: contentAt, length: message.content.length, field: 20, name: "segment", value: segment.title }, ...segment.rows);
      }
    }
  }
  return { record, title, note, rows };
}

function asBloom(bytes: Uint8Array, options: BlobDecodeOptions): BlobResult {
  const dialects: DialectName[] = options.dialect === "auto" ? ["nim", "spec"] : [options.dialect];
  let firstError: SdsError | undefined;
  for (const dialect of dialects) {
    const { summary, error } = bloomSummary(bytes, dialect, options);
    if (summary) {
      const rows: TreeRow[] = [{ depth: 0, offset: 0, length: bytes.length, field: 0, name: "bloomFilter", value: bloomText(summary) }];
      return { record: { type: "bloom", dialect, bloom: summary }, title: `${dialect} bloom filter`, rows };
    }
    firstError ??= error;
  }
  throw firstError ?? new DecodeError("E_DECODE_INVALID", "not a bloom filter", { field: "bloomFilter", offset: 0 });
}

function segmentJson(segment: Segment): Record<string, unknown> {
  return {
    originalPayloadHash: hex(segment.originalPayloadHash),
    originalPayloadLength: segment.originalPayloadLength,
    index: segment.index,
    dataSegmentCount: segment.dataSegmentCount,
    ...(segment.paritySegmentCount !== undefined ? { paritySegmentCount: segment.paritySegmentCount } : {}),
    isParity: segment.isParity,
    segmentPayload: hex(segment.segmentPayload),
  };
}

function asSegment(bytes: Uint8Array, options: BlobDecodeOptions, baseOffset = 0, depth = 0): BlobResult {
  const segment = decodeSegment(bytes, {}, baseOffset);
  const kind = segment.isParity ? "parity" : "data";
  const count = segment.isParity ? segment.paritySegmentCount ?? 0 : segment.dataSegmentCount;
  const rows = rowsFromDump(dumpProtobuf(bytes, { maxDepth: 0 }).fields.map((node) => shift(node, baseOffset)), { bytesShownMax: options.bytesShownMax }).map((row) => ({
    ...row,
    name: SEGMENT_NAMES[row.field] ?? row.name,
    depth: row.depth + depth,
  }));
  return { record: { type: "segment", segment: segmentJson(segment) }, title: `${kind} segment ${segment.index + 1} of ${count} (payload ${segment.originalPayloadLength} bytes)`, rows };
}

const SEGMENT_NAMES: Record<number, string> = {
  1: "originalPayloadHash",
  2: "originalPayloadLength",
  3: "index",
  4: "dataSegmentCount",
  5: "paritySegmentCount",
  6: "isParity",
  7: "segmentPayload",
};

function trySegment(bytes: Uint8Array, options: BlobDecodeOptions, baseOffset: number, depth: number): BlobResult | undefined {
  try {
    return asSegment(bytes, options, baseOffset, depth);
  } catch (error) {
    if (error instanceof SdsError) return undefined;
    throw error;
  }
}

function shift(node: DumpNode, by: number): DumpNode {
  return { ...node, offset: node.offset + by, valueOffset: node.valueOffset + by, ...(node.children ? { children: node.children.map((child) => shift(child, by)) } : {}) };
}

/** Where the envelope's payload starts: the value offset of its field 1 (last one wins). */
function payloadOffset(bytes: Uint8Array): number {
  const nodes = dumpProtobuf(bytes, { maxDepth: 0 }).fields.filter((node) => node.field === 1);
  return nodes.length > 0 ? (nodes[nodes.length - 1] as DumpNode).valueOffset : 0;
}

function envelopeJson(envelope: WakuEnvelope): Record<string, unknown> {
  const metaText = envelope.meta ? printableUtf8(envelope.meta) : undefined;
  return {
    contentTopic: envelope.contentTopic,
    payload: hex(envelope.payload),
    ...(envelope.version !== undefined ? { version: envelope.version } : {}),
    ...(envelope.timestampNs !== undefined ? { timestampNs: envelope.timestampNs.toString() } : {}),
    ...(envelope.meta !== undefined ? { meta: hex(envelope.meta), ...(metaText !== undefined ? { metaText } : {}) } : {}),
    ...(envelope.ephemeral !== undefined ? { ephemeral: envelope.ephemeral } : {}),
  };
}

function asEnvelope(bytes: Uint8Array, options: BlobDecodeOptions, requireTopic: boolean): BlobResult {
  const envelope = decodeEnvelope(bytes);
  if (requireTopic && !isContentTopic(envelope.contentTopic)) {
    throw new DecodeError("E_DECODE_INVALID", `content topic ${JSON.stringify(envelope.contentTopic)} is not /app/version/name/encoding`, { field: "contentTopic", offset: 0 });
  }
  const record: Record<string, unknown> = { type: "envelope", envelope: envelopeJson(envelope) };
  const at = payloadOffset(bytes);
  const inner = nested(envelope.payload, options, at);
  const rows: TreeRow[] = [];
  for (const row of rowsFromDump(dumpProtobuf(bytes, { maxDepth: 0 }).fields, { bytesShownMax: options.bytesShownMax })) {
    const named = { ...row, name: ENVELOPE_NAMES[row.field] ?? row.name };
    if (row.field === 10 && envelope.timestampNs !== undefined) named.value = showTimestampNs(envelope.timestampNs);
    rows.push(named);
    if (row.field === 1 && inner && row.offset + row.length - envelope.payload.length === at) {
      rows.push({ depth: 1, offset: at, length: envelope.payload.length, field: 1, name: "payload", value: inner.title }, ...inner.rows);
    }
  }
  let title = `waku envelope on ${envelope.contentTopic}`;
  if (inner) {
    record.payloadDecoded = inner.record;
    title += `, carrying a ${inner.title}`;
  } else if (envelope.payload.length > 0) {
    record.payloadDecoded = null;
    title += ", payload not an SDS message or segment (encrypted?)";
  }
  return { record, title, rows };
}

/** Unix nanoseconds with an ISO date. */
function showTimestampNs(value: bigint): string {
  const ms = value / 1_000_000n;
  const date = ms > -8_640_000_000_000_000n && ms < 8_640_000_000_000_000n ? ` (${new Date(Number(ms)).toISOString()})` : "";
  return `${value} ns${date}`;
}

const ENVELOPE_NAMES: Record<number, string> = { 1: "payload", 2: "contentTopic", 3: "version", 10: "timestamp", 11: "meta", 21: "rateLimitProof", 31: "ephemeral" };

/** The payload of an envelope as an SDS message (whose content may be a segment) or a segment. */
function nested(payload: Uint8Array, options: BlobDecodeOptions, at: number): BlobResult | undefined {
  for (const attempt of [() => asMessage(payload, options, at, 2), () => asSegment(payload, options, at, 2)]) {
    try {
      return attempt();
    } catch (error) {
      if (!(error instanceof SdsError)) throw error;
    }
  }
  return undefined;
}

/**
 * A dump node ready for plain `JSON.stringify` (same keys in the same order): integers as
 * decimal strings, bytes as hex. Converting once here is far cheaper than a replacer
 * callback on every key of every record.
 */
export function dumpNodeJson(node: DumpNode): Record<string, unknown> {
  const value = node.value;
  const shown = typeof value === "bigint" ? value.toString() : value instanceof Uint8Array ? hex(value) : value;
  return { ...node, ...(value !== undefined ? { value: shown } : {}), ...(node.children ? { children: node.children.map(dumpNodeJson) } : {}) };
}

function asRaw(bytes: Uint8Array, options: BlobDecodeOptions): BlobResult {
  const dump = dumpProtobuf(bytes, { maxDepth: options.maxDepth });
  const record: Record<string, unknown> = { type: "raw", fields: dump.fields.map(dumpNodeJson) };
  const rows = options.rows === false ? [] : rowsFromDump(dump.fields, { bytesShownMax: options.bytesShownMax });
  const title = `protobuf, ${dump.fields.length} top-level field${dump.fields.length === 1 ? "" : "s"}${dump.error ? ", then an error" : ""}`;
  if (dump.error) {
    record.error = errorJson(dump.error);
    return { record, title, rows, error: dump.error };
  }
  return { record, title, rows };
}

function attemptsFor(options: BlobDecodeOptions, bytes: Uint8Array): Array<() => BlobResult> {
  switch (options.what) {
    case "message":
      return [() => asMessage(bytes, options)];
    case "bloom":
      return [() => asBloom(bytes, options)];
    case "envelope":
      return [() => asEnvelope(bytes, options, false)];
    case "segment":
      return [() => asSegment(bytes, options)];
    default:
      return [() => asEnvelope(bytes, options, true), () => asMessage(bytes, options), () => asSegment(bytes, options), () => asBloom(bytes, options)];
  }
}

/**
 * Decodes one blob as asked. Never throws a typed error: a failure comes back as an `error`
 * record (for `auto`, the SDS message error, the most likely intent, unless only another
 * target gets further).
 */
export function decodeBlob(bytes: Uint8Array, options: BlobDecodeOptions): BlobResult {
  if (options.raw) return asRaw(bytes, options);
  const attempts = attemptsFor(options, bytes);
  const errors: SdsError[] = [];
  for (const attempt of attempts) {
    try {
      return attempt();
    } catch (error) {
      if (!(error instanceof SdsError)) throw error;
      errors.push(error);
    }
  }
  const error = (options.what === "auto" ? errors[1] : errors[0]) ?? errors[0] ?? new SdsError("E_DECODE_INVALID", "nothing could decode this blob");
  return { record: { type: "error", ...errorJson(error) }, title: "error", rows: [], error };
}
