/**
 * Decoding of relay frames (layout in `protocol.ts` and docs/relay-protocol.md): version and
 * type bytes, then a proto3 body read with explicit limits. Every failure is a `DecodeError`
 * naming the field and the absolute byte offset in the frame; unknown fields are skipped so new
 * fields need no new version. Pure: no I/O, no clocks.
 */
import { DecodeError } from "../errors.js";
import { ProtoReader, WireType, type ProtoTag } from "../protocol/wire/proto.js";
import { DEFAULT_FRAME_LIMITS, FRAME_TYPE_NAMES, type Frame, type FrameLimits, type FrameOf, type PublishAckEntry, RELAY_PROTOCOL_VERSION, type StoredEntry } from "./protocol.js";

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });
const EMPTY = new Uint8Array(0);

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

/** Reads a PUBLISH_ACK body (a whole PUBLISH_ACK frame, or one element of PUBLISH_ACKS). */
function readPublishAck(body: BodyReader, field: string): PublishAckEntry {
  const ack: PublishAckEntry = { requestId: 0, hash: EMPTY, duplicate: false, storedAtNs: 0n };
  body.fields((tag) => {
    if (tag.field === 1) ack.requestId = body.number(tag, `${field}requestId`);
    else if (tag.field === 2) ack.hash = body.bytes(tag, `${field}hash`);
    else if (tag.field === 3) ack.duplicate = body.bigint(tag, `${field}duplicate`) !== 0n;
    else if (tag.field === 4) ack.storedAtNs = body.bigint(tag, `${field}storedAtNs`);
    else return false;
    return true;
  });
  return ack;
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
    const frame: FrameOf<"welcome"> = { type: "welcome", protocolVersion: 0, pubsubTopic: "", relayTimeNs: 0n, frameBytesMax: 0, storeQueryLimitMax: 0, relayId: "", features: 0 };
    body.fields((tag) => {
      if (tag.field === 1) frame.protocolVersion = body.number(tag, "protocolVersion", 0xffff_ffff);
      else if (tag.field === 2) frame.pubsubTopic = body.string(tag, "pubsubTopic");
      else if (tag.field === 3) frame.relayTimeNs = body.bigint(tag, "relayTimeNs");
      else if (tag.field === 4) frame.frameBytesMax = body.number(tag, "frameBytesMax");
      else if (tag.field === 5) frame.storeQueryLimitMax = body.number(tag, "storeQueryLimitMax", 0xffff_ffff);
      else if (tag.field === 6) frame.relayId = body.string(tag, "relayId");
      else if (tag.field === 7) frame.features = body.number(tag, "features", 0xffff_ffff);
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
  publishAck: (body) => ({ type: "publishAck", ...readPublishAck(body, "") }),
  publishAcks: (body) => {
    const frame: FrameOf<"publishAcks"> = { type: "publishAcks", acks: [] };
    body.fields((tag) => {
      if (tag.field !== 1) return false;
      body.count(frame.acks.length, body.limits.acksPerFrameMax, "acks", tag.offset);
      body.expect(tag, WireType.LengthDelimited, "acks");
      const raw = body.reader.readLengthDelimited("acks");
      frame.acks.push(readPublishAck(new BodyReader(new ProtoReader(raw, { baseOffset: body.reader.offset - raw.length }), body.limits), "acks."));
      return true;
    });
    return frame;
  },
  hello: (body) => {
    const frame: FrameOf<"hello"> = { type: "hello", features: 0 };
    body.fields((tag) => {
      if (tag.field !== 1) return false;
      frame.features = body.number(tag, "features", 0xffff_ffff);
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
  const name = FRAME_TYPE_NAMES.get(frameBytes[1] as number);
  if (name === undefined) throw new DecodeError("E_DECODE_INVALID", `unknown frame type 0x${(frameBytes[1] as number).toString(16)}`, { field: "type", offset: 1 });
  const reader = new ProtoReader(frameBytes.subarray(2), { baseOffset: 2 });
  return DECODERS[name](new BodyReader(reader, bounds));
}
