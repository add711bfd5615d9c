/**
 * The relay wire protocol: one WebSocket binary message = one frame =
 * `[protocol version: 1 byte = 1][frame type: 1 byte][protobuf body]`. Client frames have
 * types 0x01–0x7f, relay frames 0x80–0xff. Envelopes travel as their encoded bytes so the
 * relay forwards exactly what was published. Bodies follow proto3 conventions (zero/empty
 * scalars omitted, unknown fields skipped). Specified byte by byte in docs/relay-protocol.md.
 * Decoding lives in `frame-decode.ts`. Pure: no I/O, no clocks.
 */
import { ProtoWriter } from "../protocol/wire/proto.js";

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

/** Frame type byte → frame name (the decoder's dispatch table). */
export const FRAME_TYPE_NAMES: ReadonlyMap<number, Frame["type"]> = new Map<number, Frame["type"]>([
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
const TYPE_BYTES = new Map<Frame["type"], number>([...FRAME_TYPE_NAMES].map(([byte, name]) => [name, byte]));

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
  if (frame.type === "publishAck") return encodePublishAckFrame(frame);
  const writer = new ProtoWriter();
  writer.raw(Uint8Array.of(RELAY_PROTOCOL_VERSION, TYPE_BYTES.get(frame.type) as number));
  writeBody(writer, frame);
  return writer.finish();
}

/** Writes a 64-bit varint from (low, high) halves at `position`; returns the position after it. */
function writeVarint64(out: Uint8Array, position: number, low: number, high: number): number {
  while (high !== 0 || low >= 0x80) {
    out[position++] = (low & 0x7f) | 0x80;
    low = ((low >>> 7) | (high << 25)) >>> 0;
    high = high >>> 7;
  }
  out[position++] = low;
  return position;
}

/** Writes a length-delimited field (`key`, length, bytes) at `position`; returns the position after it. */
function writeBytesField(out: Buffer, position: number, key: number, bytes: Uint8Array): number {
  if (bytes.length === 0) return position;
  out[position++] = key;
  position = writeVarint64(out, position, bytes.length, 0);
  out.set(bytes, position);
  return position + bytes.length;
}

function lengthFieldSize(length: number): number {
  return length === 0 ? 0 : 1 + varintBytes(length, 0) + length;
}

/** Exact varint size of (low, high). */
function varintBytes(low: number, high: number): number {
  let length = 1;
  while (high !== 0 || low >= 0x80) {
    low = ((low >>> 7) | (high << 25)) >>> 0;
    high = high >>> 7;
    length += 1;
  }
  return length;
}

/** Splits a uint64 into unsigned 32-bit (low, high) halves. */
function halves(value: bigint): [number, number] {
  return [Number(value & 0xffff_ffffn), Number((value >> 32n) & 0xffff_ffffn)];
}

/**
 * MESSAGE frames are encoded once per publish and sent to every subscriber: one allocation,
 * number arithmetic. Same bytes as the generic path.
 */
function encodeMessageFrame(frame: FrameOf<"message">): Uint8Array {
  const topicBytes = Buffer.byteLength(frame.topic, "utf8");
  const [storedLow, storedHigh] = halves(frame.storedAtNs);
  const stored = frame.storedAtNs === 0n ? 0 : 1 + varintBytes(storedLow, storedHigh);
  const out = Buffer.allocUnsafe(2 + lengthFieldSize(topicBytes) + lengthFieldSize(frame.envelope.length) + lengthFieldSize(frame.hash.length) + stored);
  out[0] = RELAY_PROTOCOL_VERSION;
  out[1] = FrameType.Message;
  let position = 2;
  if (topicBytes > 0) {
    out[position++] = 0x0a;
    position = writeVarint64(out, position, topicBytes, 0);
    position += out.write(frame.topic, position, "utf8");
  }
  position = writeBytesField(out, position, 0x12, frame.envelope);
  position = writeBytesField(out, position, 0x1a, frame.hash);
  if (stored > 0) {
    out[position++] = 0x20;
    position = writeVarint64(out, position, storedLow, storedHigh);
  }
  return plain(out);
}

/** PUBLISH_ACK, once per publish: one allocation, same bytes as the generic path. */
function encodePublishAckFrame(frame: FrameOf<"publishAck">): Uint8Array {
  const requestLow = frame.requestId % 0x1_0000_0000;
  const requestHigh = Math.floor(frame.requestId / 0x1_0000_0000);
  const [storedLow, storedHigh] = halves(frame.storedAtNs);
  const size =
    2 +
    (frame.requestId === 0 ? 0 : 1 + varintBytes(requestLow, requestHigh)) +
    lengthFieldSize(frame.hash.length) +
    (frame.duplicate ? 2 : 0) +
    (frame.storedAtNs === 0n ? 0 : 1 + varintBytes(storedLow, storedHigh));
  const out = Buffer.allocUnsafe(size);
  out[0] = RELAY_PROTOCOL_VERSION;
  out[1] = FrameType.PublishAck;
  let position = 2;
  if (frame.requestId !== 0) {
    out[position++] = 0x08;
    position = writeVarint64(out, position, requestLow, requestHigh);
  }
  position = writeBytesField(out, position, 0x12, frame.hash);
  if (frame.duplicate) {
    out[position++] = 0x18;
    out[position++] = 1;
  }
  if (frame.storedAtNs !== 0n) {
    out[position++] = 0x20;
    writeVarint64(out, position, storedLow, storedHigh);
  }
  return plain(out);
}

/**
 * The encoders write into pooled Buffer memory (`allocUnsafe`, every byte overwritten) but hand
 * out a plain Uint8Array view: a Buffer's `slice` does not copy, which would surprise decoders.
 */
function plain(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.length);
}

/** True for frame types a client may send. */
export function isClientFrame(frame: Frame): boolean {
  return (TYPE_BYTES.get(frame.type) as number) < 0x80;
}
