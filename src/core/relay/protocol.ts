/**
 * The relay wire protocol: one WebSocket binary message = one frame =
 * `[protocol version: 1 byte = 1][frame type: 1 byte][protobuf body]`. Client frames have
 * types 0x01–0x7f, relay frames 0x80–0xff. Envelopes travel as their encoded bytes so the
 * relay forwards exactly what was published. Bodies follow proto3 conventions (zero/empty
 * scalars omitted, unknown fields skipped). Specified byte by byte in docs/relay-protocol.md.
 * Pure: no I/O, no clocks.
 */
import { DecodeError } from "../errors.js";
import { ProtoReader, ProtoWriter, WireType, type ProtoTag } from "../protocol/wire/proto.js";

/** Version byte of every frame; a relay or client refuses any other. */
export const RELAY_PROTOCOL_VERSION = 1;

/** Frame type bytes. */
export const FrameType = {
  Subscribe: 0x01,
  Unsubscribe: 0x02,
  Publish: 0x03,
  Ping: 0x04,
  StoreQuery: 0x05,
  Welcome: 0x80,
  Message: 0x81,
  PublishAck: 0x82,
  PublishReject: 0x83,
  Pong: 0x84,
  StoreResponse: 0x85,
  Error: 0x86,
  SlowConsumer: 0x87,
} as const;

/** One stored envelope in a STORE_RESPONSE. */
export interface StoredEntry {
  hash: Uint8Array;
  envelope: Uint8Array;
  storedAtNs: bigint;
}

/** Every frame, client → relay and relay → client. `requestId`s are caller-chosen, ≤ 2^53−1. */
export type Frame =
  | { type: "subscribe"; topics: string[] }
  | { type: "unsubscribe"; topics: string[] }
  | { type: "publish"; requestId: number; envelope: Uint8Array }
  | { type: "ping"; nonce: number }
  | { type: "storeQuery"; requestId: number; topic: string; hashes: Uint8Array[]; sinceTimestampNs: bigint; limit: number; cursor: Uint8Array }
  | { type: "welcome"; protocolVersion: number; pubsubTopic: string; relayTimeNs: bigint; frameBytesMax: number; storeQueryLimitMax: number; relayId: string }
  | { type: "message"; topic: string; envelope: Uint8Array; hash: Uint8Array; storedAtNs: bigint }
  | { type: "publishAck"; requestId: number; hash: Uint8Array; duplicate: boolean; storedAtNs: bigint }
  | { type: "publishReject"; requestId: number; code: string; reason: string }
  | { type: "pong"; nonce: number }
  | { type: "storeResponse"; requestId: number; entries: StoredEntry[]; nextCursor: Uint8Array; code: string; reason: string }
  | { type: "error"; code: string; reason: string; requestId: number; topic: string }
  | { type: "slowConsumer"; bufferedBytes: number; limitBytes: number };

/** A frame of one kind. */
export type FrameOf<K extends Frame["type"]> = Extract<Frame, { type: K }>;

/** Limits for {@link decodeFrame}. */
export interface FrameLimits {
  /** Whole frame (default 1 MiB + 128 KiB). */
  frameBytesMax: number;
  /** Topics in one SUBSCRIBE/UNSUBSCRIBE (default 64). */
  topicsPerFrameMax: number;
  /** UTF-8 bytes of a topic, code or reason string (default 1024). */
  stringBytesMax: number;
  /** Hashes in one STORE_QUERY (default 1024). */
  hashesPerQueryMax: number;
  /** Entries in one STORE_RESPONSE (default 10,000). */
  entriesPerResponseMax: number;
}

/** Default frame limits. */
export const DEFAULT_FRAME_LIMITS: Readonly<FrameLimits> = Object.freeze({
  frameBytesMax: 1024 * 1024 + 128 * 1024,
  topicsPerFrameMax: 64,
  stringBytesMax: 1024,
  hashesPerQueryMax: 1024,
  entriesPerResponseMax: 10_000,
});

const TYPE_NAMES = new Map<number, Frame["type"]>([
  [FrameType.Subscribe, "subscribe"],
  [FrameType.Unsubscribe, "unsubscribe"],
  [FrameType.Publish, "publish"],
  [FrameType.Ping, "ping"],
  [FrameType.StoreQuery, "storeQuery"],
  [FrameType.Welcome, "welcome"],
  [FrameType.Message, "message"],
  [FrameType.PublishAck, "publishAck"],
  [FrameType.PublishReject, "publishReject"],
  [FrameType.Pong, "pong"],
  [FrameType.StoreResponse, "storeResponse"],
  [FrameType.Error, "error"],
  [FrameType.SlowConsumer, "slowConsumer"],
]);
const TYPE_BYTES = new Map<Frame["type"], number>([...TYPE_NAMES].map(([byte, name]) => [name, byte]));
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });
const EMPTY = new Uint8Array(0);

// ---------------------------------------------------------------- encoding

function u64(writer: ProtoWriter, field: number, value: number | bigint): void {
  if (value !== 0 && value !== 0n) writer.uint64Field(field, value);
}
function str(writer: ProtoWriter, field: number, value: string): void {
  if (value.length > 0) writer.stringField(field, value);
}
function bytes(writer: ProtoWriter, field: number, value: Uint8Array): void {
  if (value.length > 0) writer.bytesField(field, value);
}

function writeBody(writer: ProtoWriter, frame: Frame): void {
  switch (frame.type) {
    case "subscribe":
    case "unsubscribe":
      for (const topic of frame.topics) writer.stringField(1, topic);
      return;
    case "publish":
      u64(writer, 1, frame.requestId);
      bytes(writer, 2, frame.envelope);
      return;
    case "ping":
    case "pong":
      u64(writer, 1, frame.nonce);
      return;
    case "storeQuery":
      u64(writer, 1, frame.requestId);
      str(writer, 2, frame.topic);
      for (const hash of frame.hashes) writer.bytesField(3, hash);
      u64(writer, 4, frame.sinceTimestampNs);
      u64(writer, 5, frame.limit);
      bytes(writer, 6, frame.cursor);
      return;
    case "welcome":
      u64(writer, 1, frame.protocolVersion);
      str(writer, 2, frame.pubsubTopic);
      u64(writer, 3, frame.relayTimeNs);
      u64(writer, 4, frame.frameBytesMax);
      u64(writer, 5, frame.storeQueryLimitMax);
      str(writer, 6, frame.relayId);
      return;
    case "message":
      str(writer, 1, frame.topic);
      bytes(writer, 2, frame.envelope);
      bytes(writer, 3, frame.hash);
      u64(writer, 4, frame.storedAtNs);
      return;
    case "publishAck":
      u64(writer, 1, frame.requestId);
      bytes(writer, 2, frame.hash);
      u64(writer, 3, frame.duplicate ? 1 : 0);
      u64(writer, 4, frame.storedAtNs);
      return;
    case "publishReject":
      u64(writer, 1, frame.requestId);
      str(writer, 2, frame.code);
      str(writer, 3, frame.reason);
      return;
    case "storeResponse":
      u64(writer, 1, frame.requestId);
      for (const entry of frame.entries) {
        const inner = new ProtoWriter();
        bytes(inner, 1, entry.hash);
        bytes(inner, 2, entry.envelope);
        u64(inner, 3, entry.storedAtNs);
        writer.bytesField(2, inner.finish());
      }
      bytes(writer, 3, frame.nextCursor);
      str(writer, 4, frame.code);
      str(writer, 5, frame.reason);
      return;
    case "error":
      str(writer, 1, frame.code);
      str(writer, 2, frame.reason);
      u64(writer, 3, frame.requestId);
      str(writer, 4, frame.topic);
      return;
    case "slowConsumer":
      u64(writer, 1, frame.bufferedBytes);
      u64(writer, 2, frame.limitBytes);
      return;
  }
}

/** Encodes a frame (version byte, type byte, body). Out-of-range values are caller bugs. */
export function encodeFrame(frame: Frame): Uint8Array {
  if (frame.type === "message") return encodeMessageFrame(frame);
  const writer = new ProtoWriter();
  writer.raw(Uint8Array.of(RELAY_PROTOCOL_VERSION, TYPE_BYTES.get(frame.type) as number));
  writeBody(writer, frame);
  return writer.finish();
}

function numberVarintLength(value: number): number {
  let length = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    length += 1;
  }
  return length;
}

/**
 * MESSAGE frames are encoded once per publish and sent to every subscriber: a single-allocation
 * encoder with number arithmetic (same bytes as the generic path; pinned by the round-trip tests).
 */
function encodeMessageFrame(frame: FrameOf<"message">): Uint8Array {
  const topic = Buffer.from(frame.topic, "utf8");
  const stored = frame.storedAtNs === 0n ? undefined : new ProtoWriter().varint(frame.storedAtNs).finish();
  const part = (bytes: Uint8Array) => (bytes.length === 0 ? 0 : 1 + numberVarintLength(bytes.length) + bytes.length);
  const size = 2 + part(topic) + part(frame.envelope) + part(frame.hash) + (stored ? 1 + stored.length : 0);
  const out = new Uint8Array(size);
  out[0] = RELAY_PROTOCOL_VERSION;
  out[1] = FrameType.Message;
  let position = 2;
  const put = (key: number, bytes: Uint8Array) => {
    if (bytes.length === 0) return;
    out[position++] = key;
    for (let length = bytes.length; ; length = Math.floor(length / 128)) {
      if (length < 0x80) {
        out[position++] = length;
        break;
      }
      out[position++] = (length & 0x7f) | 0x80;
    }
    out.set(bytes, position);
    position += bytes.length;
  };
  put(0x0a, topic);
  put(0x12, frame.envelope);
  put(0x1a, frame.hash);
  if (stored) {
    out[position++] = 0x20;
    out.set(stored, position);
    position += stored.length;
  }
  return out;
}

// ---------------------------------------------------------------- decoding

class BodyReader {
  constructor(
    readonly reader: ProtoReader,
    readonly limits: FrameLimits,
  ) {}

  expect(tag: ProtoTag, wireType: number, field: string): void {
    if (tag.wireType !== wireType) {
      throw new DecodeError("E_DECODE_WIRE_TYPE", `wire type ${tag.wireType} where ${wireType} was expected`, { field, offset: tag.offset });
    }
  }
  number(tag: ProtoTag, field: string, max = Number.MAX_SAFE_INTEGER): number {
    this.expect(tag, WireType.Varint, field);
    const offset = this.reader.offset;
    const value = this.reader.readVarint(field);
    if (value > BigInt(max)) throw new DecodeError("E_DECODE_LIMIT", `value ${value} exceeds ${max}`, { field, offset });
    return Number(value);
  }
  bigint(tag: ProtoTag, field: string): bigint {
    this.expect(tag, WireType.Varint, field);
    return this.reader.readVarint(field);
  }
  bytes(tag: ProtoTag, field: string): Uint8Array {
    this.expect(tag, WireType.LengthDelimited, field);
    return this.reader.readLengthDelimited(field).slice();
  }
  string(tag: ProtoTag, field: string): string {
    this.expect(tag, WireType.LengthDelimited, field);
    const raw = this.reader.readLengthDelimited(field);
    const offset = this.reader.offset - raw.length;
    if (raw.length > this.limits.stringBytesMax) {
      throw new DecodeError("E_DECODE_LIMIT", `string of ${raw.length} bytes exceeds ${this.limits.stringBytesMax}`, { field, offset });
    }
    try {
      return utf8Decoder.decode(raw);
    } catch {
      throw new DecodeError("E_DECODE_UTF8", "not valid UTF-8", { field, offset });
    }
  }
  /** Reads every field, calling `onField`; unknown fields (onField returns false) are skipped. */
  fields(onField: (tag: ProtoTag) => boolean): void {
    while (!this.reader.eof()) {
      const tag = this.reader.readTag("frame");
      if (!onField(tag)) this.reader.skip(tag.wireType, `unknown(${tag.field})`);
    }
  }
  count(current: number, max: number, field: string, offset: number): void {
    if (current >= max) throw new DecodeError("E_DECODE_LIMIT", `more than ${max} ${field}`, { field, offset });
  }
}

function decodeStoredEntry(bytes: Uint8Array, baseOffset: number, limits: FrameLimits): StoredEntry {
  const body = new BodyReader(new ProtoReader(bytes, { baseOffset }), limits);
  const entry: StoredEntry = { hash: EMPTY, envelope: EMPTY, storedAtNs: 0n };
  body.fields((tag) => {
    if (tag.field === 1) entry.hash = body.bytes(tag, "entry.hash");
    else if (tag.field === 2) entry.envelope = body.bytes(tag, "entry.envelope");
    else if (tag.field === 3) entry.storedAtNs = body.bigint(tag, "entry.storedAtNs");
    else return false;
    return true;
  });
  return entry;
}

type Decoder = (body: BodyReader) => Frame;

const DECODERS: Record<Frame["type"], Decoder> = {
  subscribe: (body) => ({ type: "subscribe", topics: readTopics(body) }),
  unsubscribe: (body) => ({ type: "unsubscribe", topics: readTopics(body) }),
  publish: (body) => {
    const frame: FrameOf<"publish"> = { type: "publish", requestId: 0, envelope: EMPTY };
    body.fields((tag) => {
      if (tag.field === 1) frame.requestId = body.number(tag, "requestId");
      else if (tag.field === 2) frame.envelope = body.bytes(tag, "envelope");
      else return false;
      return true;
    });
    return frame;
  },
  ping: (body) => ({ type: "ping", nonce: readNonce(body) }),
  pong: (body) => ({ type: "pong", nonce: readNonce(body) }),
  storeQuery: (body) => {
    const frame: FrameOf<"storeQuery"> = { type: "storeQuery", requestId: 0, topic: "", hashes: [], sinceTimestampNs: 0n, limit: 0, cursor: EMPTY };
    body.fields((tag) => {
      if (tag.field === 1) frame.requestId = body.number(tag, "requestId");
      else if (tag.field === 2) frame.topic = body.string(tag, "topic");
      else if (tag.field === 3) {
        body.count(frame.hashes.length, body.limits.hashesPerQueryMax, "hashes", tag.offset);
        frame.hashes.push(body.bytes(tag, "hashes"));
      } else if (tag.field === 4) frame.sinceTimestampNs = body.bigint(tag, "sinceTimestampNs");
      else if (tag.field === 5) frame.limit = body.number(tag, "limit", 0xffff_ffff);
      else if (tag.field === 6) frame.cursor = body.bytes(tag, "cursor");
      else return false;
      return true;
    });
    return frame;
  },
  welcome: (body) => {
    const frame: FrameOf<"welcome"> = { type: "welcome", protocolVersion: 0, pubsubTopic: "", relayTimeNs: 0n, frameBytesMax: 0, storeQueryLimitMax: 0, relayId: "" };
    body.fields((tag) => {
      if (tag.field === 1) frame.protocolVersion = body.number(tag, "protocolVersion", 0xffff_ffff);
      else if (tag.field === 2) frame.pubsubTopic = body.string(tag, "pubsubTopic");
      else if (tag.field === 3) frame.relayTimeNs = body.bigint(tag, "relayTimeNs");
      else if (tag.field === 4) frame.frameBytesMax = body.number(tag, "frameBytesMax");
      else if (tag.field === 5) frame.storeQueryLimitMax = body.number(tag, "storeQueryLimitMax", 0xffff_ffff);
      else if (tag.field === 6) frame.relayId = body.string(tag, "relayId");
      else return false;
      return true;
    });
    return frame;
  },
  message: (body) => {
    const frame: FrameOf<"message"> = { type: "message", topic: "", envelope: EMPTY, hash: EMPTY, storedAtNs: 0n };
    body.fields((tag) => {
      if (tag.field === 1) frame.topic = body.string(tag, "topic");
      else if (tag.field === 2) frame.envelope = body.bytes(tag, "envelope");
      else if (tag.field === 3) frame.hash = body.bytes(tag, "hash");
      else if (tag.field === 4) frame.storedAtNs = body.bigint(tag, "storedAtNs");
      else return false;
      return true;
    });
    return frame;
  },
  publishAck: (body) => {
    const frame: FrameOf<"publishAck"> = { type: "publishAck", requestId: 0, hash: EMPTY, duplicate: false, storedAtNs: 0n };
    body.fields((tag) => {
      if (tag.field === 1) frame.requestId = body.number(tag, "requestId");
      else if (tag.field === 2) frame.hash = body.bytes(tag, "hash");
      else if (tag.field === 3) frame.duplicate = body.bigint(tag, "duplicate") !== 0n;
      else if (tag.field === 4) frame.storedAtNs = body.bigint(tag, "storedAtNs");
      else return false;
      return true;
    });
    return frame;
  },
  publishReject: (body) => {
    const frame: FrameOf<"publishReject"> = { type: "publishReject", requestId: 0, code: "", reason: "" };
    body.fields((tag) => {
      if (tag.field === 1) frame.requestId = body.number(tag, "requestId");
      else if (tag.field === 2) frame.code = body.string(tag, "code");
      else if (tag.field === 3) frame.reason = body.string(tag, "reason");
      else return false;
      return true;
    });
    return frame;
  },
  storeResponse: (body) => {
    const frame: FrameOf<"storeResponse"> = { type: "storeResponse", requestId: 0, entries: [], nextCursor: EMPTY, code: "", reason: "" };
    body.fields((tag) => {
      if (tag.field === 1) frame.requestId = body.number(tag, "requestId");
      else if (tag.field === 2) {
        body.count(frame.entries.length, body.limits.entriesPerResponseMax, "entries", tag.offset);
        const raw = body.bytes(tag, "entries");
        frame.entries.push(decodeStoredEntry(raw, body.reader.offset - raw.length, body.limits));
      } else if (tag.field === 3) frame.nextCursor = body.bytes(tag, "nextCursor");
      else if (tag.field === 4) frame.code = body.string(tag, "code");
      else if (tag.field === 5) frame.reason = body.string(tag, "reason");
      else return false;
      return true;
    });
    return frame;
  },
  error: (body) => {
    const frame: FrameOf<"error"> = { type: "error", code: "", reason: "", requestId: 0, topic: "" };
    body.fields((tag) => {
      if (tag.field === 1) frame.code = body.string(tag, "code");
      else if (tag.field === 2) frame.reason = body.string(tag, "reason");
      else if (tag.field === 3) frame.requestId = body.number(tag, "requestId");
      else if (tag.field === 4) frame.topic = body.string(tag, "topic");
      else return false;
      return true;
    });
    return frame;
  },
  slowConsumer: (body) => {
    const frame: FrameOf<"slowConsumer"> = { type: "slowConsumer", bufferedBytes: 0, limitBytes: 0 };
    body.fields((tag) => {
      if (tag.field === 1) frame.bufferedBytes = body.number(tag, "bufferedBytes");
      else if (tag.field === 2) frame.limitBytes = body.number(tag, "limitBytes");
      else return false;
      return true;
    });
    return frame;
  },
};

function readTopics(body: BodyReader): string[] {
  const topics: string[] = [];
  body.fields((tag) => {
    if (tag.field !== 1) return false;
    body.count(topics.length, body.limits.topicsPerFrameMax, "topics", tag.offset);
    topics.push(body.string(tag, "topics"));
    return true;
  });
  return topics;
}

function readNonce(body: BodyReader): number {
  let nonce = 0;
  body.fields((tag) => {
    if (tag.field !== 1) return false;
    nonce = body.number(tag, "nonce");
    return true;
  });
  return nonce;
}

/**
 * Decodes one frame with limits.
 * @throws DecodeError `E_DECODE_LIMIT` (too big, too many items), `E_DECODE_TRUNCATED`,
 * `E_DECODE_INVALID` (unknown version or frame type), wire-type/varint/UTF-8 errors — each with
 * the field and the absolute byte offset in the frame.
 */
export function decodeFrame(frameBytes: Uint8Array, limits: Partial<FrameLimits> = {}): Frame {
  const bounds: FrameLimits = { ...DEFAULT_FRAME_LIMITS, ...limits };
  if (frameBytes.length > bounds.frameBytesMax) {
    throw new DecodeError("E_DECODE_LIMIT", `frame of ${frameBytes.length} bytes exceeds ${bounds.frameBytesMax}`, { field: "frame", offset: 0 });
  }
  if (frameBytes.length < 2) throw new DecodeError("E_DECODE_TRUNCATED", "a frame has at least 2 bytes (version, type)", { field: "header", offset: frameBytes.length });
  if (frameBytes[0] !== RELAY_PROTOCOL_VERSION) {
    throw new DecodeError("E_DECODE_INVALID", `unsupported relay protocol version ${frameBytes[0]}`, { field: "version", offset: 0 }, { version: frameBytes[0] });
  }
  const name = TYPE_NAMES.get(frameBytes[1] as number);
  if (name === undefined) throw new DecodeError("E_DECODE_INVALID", `unknown frame type 0x${(frameBytes[1] as number).toString(16)}`, { field: "type", offset: 1 });
  const reader = new ProtoReader(frameBytes.subarray(2), { baseOffset: 2 });
  return DECODERS[name](new BodyReader(reader, bounds));
}

/** True for frame types a client may send. */
export function isClientFrame(frame: Frame): boolean {
  return (TYPE_BYTES.get(frame.type) as number) < 0x80;
}
