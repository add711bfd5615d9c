/**
 * Relay frames as finished WebSocket messages. The server never masks, never compresses and never
 * fragments, so a frame is its 2/4/10-byte header and the bytes (RFC 6455 §5.2), built in one
 * allocation and written straight to the TCP socket. MESSAGE and PUBLISH_ACK, one or two per
 * publish, have dedicated encoders that write exactly what the table-driven `writeFrame` writes.
 */
import { smallVarintLength } from "../protocol/wire/proto.js";
import { frameBytes, type Frame, FrameType, RELAY_PROTOCOL_VERSION, varintSize, writeFrame, writeVarint } from "./protocol.js";

/** A complete WebSocket binary message holding one relay frame (see {@link wireFrame}). */
export type WireFrame = Buffer & { readonly __wireFrame: true };

/** First byte of an unfragmented binary WebSocket message: FIN + opcode 2. */
const FIN_BINARY = 0x82;

/** WebSocket header bytes of an unmasked message of `length` bytes. */
function headerBytes(length: number): number {
  return length <= 125 ? 2 : length <= 0xffff ? 4 : 10;
}

/** One Buffer for a WebSocket binary message of `length` payload bytes, its unmasked header written. */
function allocateWithHeader(length: number): { out: Buffer; header: number } {
  const header = headerBytes(length);
  const out = Buffer.allocUnsafe(header + length);
  out[0] = FIN_BINARY;
  if (header === 2) out[1] = length;
  else if (header === 4) {
    out[1] = 126;
    out.writeUInt16BE(length, 2);
  } else {
    out[1] = 127;
    out.writeUInt32BE(Math.floor(length / 0x1_0000_0000), 2);
    out.writeUInt32BE(length >>> 0, 6);
  }
  return { out, header };
}

/** Encodes `frame` as a whole unmasked WebSocket binary message (header and frame, one Buffer). */
export function wireFrame(frame: Frame): WireFrame {
  const length = frameBytes(frame);
  const { out, header } = allocateWithHeader(length);
  writeFrame(frame, out, header);
  return out as WireFrame;
}

// The last `splitStoreTime` result: unsigned low and high 32 bits.
let storeTimeLow = 0;
let storeTimeHigh = 0;
const storeTimeScratch = new DataView(new ArrayBuffer(8));

/** Splits a store time (0 ≤ ns < 2^64) into `storeTimeLow`/`storeTimeHigh` without BigInt arithmetic. */
function splitStoreTime(storedAtNs: bigint): void {
  storeTimeScratch.setBigUint64(0, storedAtNs);
  storeTimeLow = storeTimeScratch.getUint32(4);
  storeTimeHigh = storeTimeScratch.getUint32(0);
}

/** Writes a length-delimited field (key < 128) holding `bytes`. */
function writeBytesField(out: Buffer, position: number, key: number, bytes: Uint8Array): number {
  out[position++] = key;
  position = writeVarint(out, position, bytes.length, 0);
  out.set(bytes, position);
  return position + bytes.length;
}

/** Starts a wire frame of `length` frame bytes: the WebSocket header, version and type byte. */
export function wireStart(length: number, type: number): { out: Buffer; position: number } {
  const { out, header } = allocateWithHeader(length);
  out[header] = RELAY_PROTOCOL_VERSION;
  out[header + 1] = type;
  return { out, position: header + 2 };
}

/** The topic of the last MESSAGE frame and its UTF-8 length (publishes repeat their topic). */
let lastTopic = "";
let lastTopicBytes = 0;

/**
 * The MESSAGE wire frame, byte for byte what {@link wireFrame} writes for
 * `{ type: "message", topic, envelope, hash, storedAtNs }`, without the table-driven encoder:
 * built once per publish, it is on the hot path. `topic` is written as UTF-8.
 */
export function wireMessage(topic: string, envelope: Uint8Array, hash: Uint8Array, storedAtNs: bigint): WireFrame {
  if (topic !== lastTopic) {
    lastTopic = topic;
    lastTopicBytes = Buffer.byteLength(topic, "utf8");
  }
  const topicBytes = lastTopicBytes;
  splitStoreTime(storedAtNs);
  const timeBytes = storeTimeLow === 0 && storeTimeHigh === 0 ? 0 : 1 + varintSize(storeTimeLow, storeTimeHigh);
  const length = 2 + fieldBytes(topicBytes) + fieldBytes(envelope.length) + fieldBytes(hash.length) + timeBytes;
  const start = wireStart(length, FrameType.Message);
  const out = start.out;
  let position = start.position;
  if (topicBytes > 0) {
    out[position++] = 0x0a;
    position = writeVarint(out, position, topicBytes, 0);
    if (topicBytes === topic.length) {
      // All ASCII (any other character takes two or more UTF-8 bytes): written in place.
      for (let index = 0; index < topicBytes; index++) out[position + index] = topic.charCodeAt(index);
      position += topicBytes;
    } else position += out.write(topic, position, "utf8");
  }
  if (envelope.length > 0) position = writeBytesField(out, position, 0x12, envelope);
  if (hash.length > 0) position = writeBytesField(out, position, 0x1a, hash);
  if (timeBytes > 0) {
    out[position++] = 0x20;
    writeVarint(out, position, storeTimeLow, storeTimeHigh);
  }
  return out as WireFrame;
}

/**
 * The PUBLISH_ACK wire frame, byte for byte what {@link wireFrame} writes for
 * `{ type: "publishAck", requestId, hash, duplicate, storedAtNs }` (one per publish: hot path).
 * @throws RangeError for a request id that is not a safe non-negative integer (a caller bug).
 */
export function wirePublishAck(requestId: number, hash: Uint8Array, duplicate: boolean, storedAtNs: bigint): WireFrame {
  const length = 2 + publishAckBodyBytes(requestId, hash, duplicate, storedAtNs);
  const start = wireStart(length, FrameType.PublishAck);
  writePublishAckBody(start.out, start.position, requestId, hash, duplicate);
  return start.out as WireFrame;
}

/** Body bytes of a PUBLISH_ACK; leaves the store time split in `storeTimeLow`/`storeTimeHigh`. */
export function publishAckBodyBytes(requestId: number, hash: Uint8Array, duplicate: boolean, storedAtNs: bigint): number {
  if (!Number.isSafeInteger(requestId) || requestId < 0) throw new RangeError(`invalid request id ${requestId}`);
  splitStoreTime(storedAtNs);
  return (requestId === 0 ? 0 : 1 + smallVarintLength(requestId)) + fieldBytes(hash.length) + (duplicate ? 2 : 0) + (storeTimeLow === 0 && storeTimeHigh === 0 ? 0 : 1 + varintSize(storeTimeLow, storeTimeHigh));
}

/** Writes a PUBLISH_ACK body (store time from `storeTimeLow`/`storeTimeHigh`); returns the end. */
export function writePublishAckBody(out: Buffer, position: number, requestId: number, hash: Uint8Array, duplicate: boolean): number {
  if (requestId !== 0) {
    out[position++] = 0x08;
    const low = requestId % 0x1_0000_0000;
    position = writeVarint(out, position, low, (requestId - low) / 0x1_0000_0000);
  }
  if (hash.length > 0) position = writeBytesField(out, position, 0x12, hash);
  if (duplicate) {
    out[position++] = 0x18;
    out[position++] = 1;
  }
  if (storeTimeLow !== 0 || storeTimeHigh !== 0) {
    out[position++] = 0x20;
    position = writeVarint(out, position, storeTimeLow, storeTimeHigh);
  }
  return position;
}

/** Bytes of a length-delimited field (key < 128) of `length` content bytes; 0 when omitted (empty). */
function fieldBytes(length: number): number {
  return length === 0 ? 0 : 1 + smallVarintLength(length) + length;
}
