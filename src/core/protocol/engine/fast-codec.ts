/**
 * The engine's hot-path codec for both dialects, byte-identical to `wire/index.ts`
 * (differential tests in test/core/protocol/engine/fast-codec.test.ts). Encoding sizes the
 * output once and reuses the encoded bytes of every history entry (entries are shared,
 * immutable objects, so a WeakMap caches them): a spec message with 200 causal entries and
 * an 18 KB filter costs one allocation. Decoding handles the well-formed common case in one
 * pass without per-field objects; ANYTHING unusual (unknown field, wrong wire type, a limit,
 * bad UTF-8, a missing nim field) returns `undefined` and the caller uses the reference
 * decoder, which produces the precise typed error or the exact tolerant result.
 */
import { SdsError } from "../../errors.js";
import type { DialectName, HistoryEntry, SdsMessage } from "../types.js";
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from "../wire/index.js";

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const EMPTY = new Uint8Array(0);

const stringCache = new Map<string, Uint8Array>();
const STRING_CACHE_ENTRIES_MAX = 4096;

function utf8(value: string, field: string): Uint8Array {
  let bytes = stringCache.get(value);
  if (bytes !== undefined) return bytes;
  if (LONE_SURROGATE.test(value)) throw new SdsError("E_INPUT_INVALID", `${field} contains a lone UTF-16 surrogate and cannot be written as UTF-8`, { field });
  bytes = encoder.encode(value);
  if (stringCache.size >= STRING_CACHE_ENTRIES_MAX) stringCache.clear();
  stringCache.set(value, bytes);
  return bytes;
}

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

/** A tiny exact-size writer. */
class Output {
  readonly bytes: Uint8Array;
  pos = 0;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
  }
  varint(value: number): void {
    while (value >= 0x80) {
      this.bytes[this.pos++] = (value % 128) | 0x80;
      value = Math.floor(value / 128);
    }
    this.bytes[this.pos++] = value;
  }
  bigVarint(value: bigint): void {
    while (value >= 0x80n) {
      this.bytes[this.pos++] = Number(value & 0x7fn) | 0x80;
      value >>= 7n;
    }
    this.bytes[this.pos++] = Number(value);
  }
  field(key: number, data: Uint8Array): void {
    this.varint(key);
    this.varint(data.length);
    this.bytes.set(data, this.pos);
    this.pos += data.length;
  }
}

function bigVarintSize(value: bigint): number {
  let size = 1;
  while (value >= 0x80n) {
    value >>= 7n;
    size++;
  }
  return size;
}

const fieldSize = (key: number, length: number): number => varintSize(key) + varintSize(length) + length;

const entryCaches: Record<DialectName, WeakMap<HistoryEntry, Uint8Array>> = { spec: new WeakMap(), nim: new WeakMap() };

function encodeEntry(entry: HistoryEntry, dialect: DialectName): Uint8Array {
  const cache = entryCaches[dialect];
  const cached = cache.get(entry);
  if (cached !== undefined) return cached;
  const id = utf8(entry.messageId, "messageId");
  const hint = entry.retrievalHint;
  const sender = entry.senderId == null ? undefined : utf8(entry.senderId, "senderId");
  const withId = dialect === "nim" || id.length > 0;
  const withHint = hint != null && (dialect === "spec" || hint.length > 0);
  const withSender = sender !== undefined && (dialect === "spec" || sender.length > 0);
  const output = new Output((withId ? fieldSize(0x0a, id.length) : 0) + (withHint ? fieldSize(0x12, hint.length) : 0) + (withSender ? fieldSize(0x1a, sender.length) : 0));
  if (withId) output.field(0x0a, id);
  if (withHint) output.field(0x12, hint);
  if (withSender) output.field(0x1a, sender);
  cache.set(entry, output.bytes);
  return output.bytes;
}

const CAUSAL_KEY: Record<DialectName, number> = { spec: 0x5a, nim: 0x1a };

/** `entry` as one repeated causal-history field of `dialect` (key, length, bytes): what LocalHistory logs. */
export function taggedEntry(entry: HistoryEntry, dialect: DialectName): Uint8Array {
  const body = encodeEntry(entry, dialect);
  const output = new Output(fieldSize(CAUSAL_KEY[dialect], body.length));
  output.field(CAUSAL_KEY[dialect], body);
  return output.bytes;
}

/** Marks a part written as-is (pre-encoded causal-history fields). */
const RAW = -1;

/**
 * Encodes `message` exactly as `encodeMessage(message, { dialect })` does. `encodedCausalHistory`,
 * when given, must be the concatenated {@link taggedEntry} bytes of `message.causalHistory`
 * (LocalHistory.recentEncoded); it is copied in one piece instead of entry by entry.
 */
export function fastEncode(message: SdsMessage, dialect: DialectName, encodedCausalHistory?: Uint8Array): Uint8Array {
  const parts: Array<[number, Uint8Array]> = [];
  const lamport = message.lamportTimestamp;
  if (lamport != null && (lamport < 0n || lamport >= 1n << 64n)) throw new SdsError("E_INPUT_INVALID", `lamportTimestamp must be a bigint in 0..2^64-1, got ${String(lamport)}`, { field: "lamportTimestamp" });
  let lamportKey = 0;
  if (dialect === "spec") {
    if (message.senderId !== "") parts.push([0x0a, utf8(message.senderId, "senderId")]);
    if (message.messageId !== "") parts.push([0x12, utf8(message.messageId, "messageId")]);
    if (message.channelId !== "") parts.push([0x1a, utf8(message.channelId, "channelId")]);
    if (lamport != null) lamportKey = 0x50;
    if (encodedCausalHistory !== undefined) parts.push([RAW, encodedCausalHistory]);
    else for (const entry of message.causalHistory) parts.push([0x5a, encodeEntry(entry, dialect)]);
    if (message.bloomFilter != null) parts.push([0x62, message.bloomFilter]);
    for (const entry of message.repairRequest) parts.push([0x6a, encodeEntry(entry, dialect)]);
    if (message.content != null) parts.push([0xa2, message.content]);
  } else {
    if (lamport == null) throw new SdsError("E_INPUT_INVALID", "the nim dialect has no ephemeral messages: lamportTimestamp is required", { field: "lamportTimestamp", dialect: "nim" });
    parts.push([0x0a, utf8(message.messageId, "messageId")]);
    lamportKey = 0x10;
    if (encodedCausalHistory !== undefined) parts.push([RAW, encodedCausalHistory]);
    else for (const entry of message.causalHistory) parts.push([0x1a, encodeEntry(entry, dialect)]);
    parts.push([0x22, utf8(message.channelId, "channelId")]);
    parts.push([0x2a, message.content ?? EMPTY]);
    parts.push([0x32, message.bloomFilter ?? EMPTY]);
    if (message.senderId !== "") parts.push([0x3a, utf8(message.senderId, "senderId")]);
    for (const entry of message.repairRequest) parts.push([0x6a, encodeEntry(entry, dialect)]);
  }
  // Spec writes lamport after the three ids; nim right after the id.
  const lamportAfter = dialect === "spec" ? parts.findIndex(([key]) => key !== 0x0a && key !== 0x12 && key !== 0x1a) : 1;
  let size = lamportKey === 0 ? 0 : 1 + bigVarintSize(lamport!);
  for (const [key, data] of parts) size += key === RAW ? data.length : fieldSize(key, data.length);
  const output = new Output(size);
  const lamportIndex = lamportAfter < 0 ? parts.length : lamportAfter;
  for (let index = 0; index <= parts.length; index++) {
    if (index === lamportIndex && lamportKey !== 0) {
      output.varint(lamportKey);
      output.bigVarint(lamport!);
    }
    if (index === parts.length) break;
    const [key, data] = parts[index]!;
    if (key === RAW) {
      output.bytes.set(data, output.pos);
      output.pos += data.length;
    } else output.field(key, data);
  }
  return output.bytes;
}

/** Reading state of the fast decoder; `fail` set means "use the reference decoder". */
class Input {
  pos = 0;
  fail = false;
  constructor(readonly bytes: Uint8Array, readonly end: number, readonly view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)) {}
  varint(): number {
    let result = 0;
    let multiplier = 1;
    for (let index = 0; index < 7 && this.pos < this.end; index++) {
      const byte = this.bytes[this.pos++]!;
      result += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) return result;
      multiplier *= 128;
    }
    this.fail = true;
    return 0;
  }
  bigVarint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let index = 0; index < 10 && this.pos < this.end; index++) {
      const byte = this.bytes[this.pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) {
        if (result >= 1n << 64n) break;
        return result;
      }
      shift += 7n;
    }
    this.fail = true;
    return 0n;
  }
  /** Start of a length-delimited field's data (advances past it), or -1. */
  span(maxBytes: number): number {
    const length = this.varint();
    if (this.fail || length > maxBytes || this.pos + length > this.end) {
      this.fail = true;
      return -1;
    }
    const start = this.pos;
    this.pos += length;
    return start;
  }
  string(maxBytes: number): string {
    const start = this.span(maxBytes);
    if (start < 0) return "";
    const bytes = this.bytes;
    let ascii = true;
    for (let index = start; index < this.pos; index++) if (bytes[index]! >= 0x80) { ascii = false; break; }
    if (ascii) return String.fromCharCode.apply(null, bytes.subarray(start, this.pos) as unknown as number[]);
    try {
      return strictDecoder.decode(bytes.subarray(start, this.pos));
    } catch {
      this.fail = true;
      return "";
    }
  }
}

/**
 * Decoded entries by their exact bytes (per dialect): a peer's causal history repeats the
 * same entries message after message, so each is decoded once and then found by an FNV-1a
 * hash of its bytes, confirmed byte by byte. The shared objects are never mutated.
 */
interface EntrySlot {
  bytes: DataView;
  entry: HistoryEntry;
}
const ENTRY_CACHE_ENTRIES_MAX = 65_536;
const entryDecodeCaches: Record<DialectName, Map<number, EntrySlot>> = { spec: new Map(), nim: new Map() };

function hashSpan(view: DataView, start: number, end: number): number {
  let hash = 0x811c9dc5 ^ (end - start);
  let index = start;
  for (; index + 4 <= end; index += 4) hash = Math.imul(hash ^ view.getUint32(index, true), 0x01000193);
  for (; index < end; index++) hash = Math.imul(hash ^ view.getUint8(index), 0x01000193);
  return hash >>> 0;
}

function sameSpan(cached: DataView, view: DataView, start: number, end: number): boolean {
  const length = end - start;
  if (cached.byteLength !== length) return false;
  let index = 0;
  for (; index + 4 <= length; index += 4) if (cached.getUint32(index, true) !== view.getUint32(start + index, true)) return false;
  for (; index < length; index++) if (cached.getUint8(index) !== view.getUint8(start + index)) return false;
  return true;
}

function decodeEntry(input: Input, limits: DecodeLimits, dialect: DialectName): HistoryEntry | undefined {
  const start = input.span(Number.MAX_SAFE_INTEGER);
  if (start < 0) return undefined;
  const end = input.pos;
  const cache = entryDecodeCaches[dialect];
  const hash = hashSpan(input.view, start, end);
  const slot = cache.get(hash);
  if (slot !== undefined && sameSpan(slot.bytes, input.view, start, end)) return slot.entry;
  const inner = new Input(input.bytes, end, input.view);
  inner.pos = start;
  let messageId: string | undefined;
  let retrievalHint: Uint8Array | undefined;
  let senderId: string | undefined;
  while (inner.pos < inner.end && !inner.fail) {
    const key = inner.varint();
    if (key === 0x0a) messageId = inner.string(limits.idBytesMax);
    else if (key === 0x12) {
      const at = inner.span(limits.retrievalHintBytesMax);
      if (at >= 0) retrievalHint = inner.bytes.slice(at, inner.pos);
    } else if (key === 0x1a) senderId = inner.string(limits.idBytesMax);
    else return undefined;
  }
  if (inner.fail || (dialect === "nim" && messageId === undefined)) return undefined;
  const entry: HistoryEntry = { messageId: messageId ?? "" };
  if (retrievalHint !== undefined) entry.retrievalHint = retrievalHint;
  if (senderId !== undefined) entry.senderId = senderId;
  if (cache.size >= ENTRY_CACHE_ENTRIES_MAX) cache.clear();
  const copy = input.bytes.slice(start, end);
  cache.set(hash, { bytes: new DataView(copy.buffer), entry });
  return entry;
}

/** Keys of each dialect: [senderId, messageId, channelId, lamport, history, bloom, repair, content]. */
const KEYS = {
  spec: { sender: 0x0a, id: 0x12, channel: 0x1a, lamport: 0x50, history: 0x5a, bloom: 0x62, repair: 0x6a, content: 0xa2 },
  nim: { sender: 0x3a, id: 0x0a, channel: 0x22, lamport: 0x10, history: 0x1a, bloom: 0x32, repair: 0x6a, content: 0x2a },
} as const;

/**
 * Decodes well-formed `bytes` of `dialect`, or returns `undefined` when the reference decoder
 * must decide. The bloom filter is a view into `bytes` (read once, never stored); content and
 * hints are copies.
 */
export function fastDecode(bytes: Uint8Array, dialect: DialectName, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): SdsMessage | undefined {
  if (bytes.length > limits.wireBytesMax) return undefined;
  const keys = KEYS[dialect];
  const input = new Input(bytes, bytes.length);
  const message: SdsMessage = { senderId: "", messageId: "", channelId: "", causalHistory: [], repairRequest: [] };
  let seen = 0;
  while (input.pos < input.end && !input.fail) {
    const key = input.varint();
    if (key === keys.sender) message.senderId = input.string(limits.idBytesMax);
    else if (key === keys.id) { message.messageId = input.string(limits.idBytesMax); seen |= 1; }
    else if (key === keys.channel) { message.channelId = input.string(limits.idBytesMax); seen |= 2; }
    else if (key === keys.lamport) { message.lamportTimestamp = input.bigVarint(); seen |= 4; }
    else if (key === keys.history || key === keys.repair) {
      const list = key === keys.history ? message.causalHistory : message.repairRequest;
      const max = key === keys.history ? limits.causalHistoryEntriesMax : limits.repairRequestEntriesMax;
      if (list.length + 1 > max) return undefined;
      const entry = decodeEntry(input, limits, dialect);
      if (entry === undefined) return undefined;
      list.push(entry);
    } else if (key === keys.bloom) {
      const start = input.span(limits.bloomBytesMax);
      if (start >= 0) message.bloomFilter = bytes.subarray(start, input.pos);
    } else if (key === keys.content) {
      const start = input.span(limits.contentBytesMax);
      if (start >= 0) message.content = bytes.slice(start, input.pos);
      seen |= 8;
    } else return undefined;
  }
  if (input.fail) return undefined;
  if (dialect === "nim" && seen !== 15) return undefined;
  return message;
}
