/**
 * The relay's sending side of each connection: WebSocket framing, write batching and the
 * slow-consumer bound. Relay frames are written as complete WebSocket binary messages built in
 * one allocation (header + frame), straight to the TCP socket: the server never masks, never
 * compresses and never fragments, so a frame is its 2/4/10-byte header and the bytes (RFC 6455
 * §5.2). A MESSAGE frame is built once per publish and the same bytes go to every subscriber.
 * Writes of one event-loop turn are corked and leave in one `writev` per socket.
 */
import type { Duplex } from "node:stream";
import { WebSocket } from "ws";
import { frameBytes, type Frame, FrameType, RELAY_PROTOCOL_VERSION, varintSize, writeFrame, writeVarint } from "./protocol.js";
import type { TokenBucket } from "./limits.js";

/** A complete WebSocket binary message holding one relay frame (see {@link wireFrame}). */
export type WireFrame = Buffer & { readonly __wireFrame: true };

/** One accepted WebSocket connection and its per-connection state. */
export interface Connection {
  readonly id: number;
  readonly ws: WebSocket;
  /** The TCP socket under `ws`; corked while a batch of frames to it is being queued. */
  readonly socket: Duplex;
  corked: boolean;
  /** Bytes written while corked (not yet handed to the kernel, so not a sign of a slow consumer). */
  corkedBytes: number;
  readonly topics: Set<string>;
  readonly bucket: TokenBucket;
  closing: boolean;
  alive: boolean;
  /** The client turned on ack batches (HELLO): its PUBLISH_ACKs of one turn leave as one PUBLISH_ACKS. */
  acksBatched: boolean;
}

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

/** Varint size of a number 0 ≤ n ≤ 2^53−1. */
function varintBytes(value: number): number {
  let length = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    length += 1;
  }
  return length;
}

/** Writes a length-delimited field (key < 128) holding `bytes`. */
function writeBytesField(out: Buffer, position: number, key: number, bytes: Uint8Array): number {
  out[position++] = key;
  position = writeVarint(out, position, bytes.length, 0);
  out.set(bytes, position);
  return position + bytes.length;
}

/** Starts a wire frame of `length` frame bytes: the WebSocket header, version and type byte. */
function wireStart(length: number, type: number): { out: Buffer; position: number } {
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
function publishAckBodyBytes(requestId: number, hash: Uint8Array, duplicate: boolean, storedAtNs: bigint): number {
  if (!Number.isSafeInteger(requestId) || requestId < 0) throw new RangeError(`invalid request id ${requestId}`);
  splitStoreTime(storedAtNs);
  return (requestId === 0 ? 0 : 1 + varintBytes(requestId)) + fieldBytes(hash.length) + (duplicate ? 2 : 0) + (storeTimeLow === 0 && storeTimeHigh === 0 ? 0 : 1 + varintSize(storeTimeLow, storeTimeHigh));
}

/** Writes a PUBLISH_ACK body (store time from `storeTimeLow`/`storeTimeHigh`); returns the end. */
function writePublishAckBody(out: Buffer, position: number, requestId: number, hash: Uint8Array, duplicate: boolean): number {
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
  return length === 0 ? 0 : 1 + varintBytes(length) + length;
}

/** Most acknowledgements in one PUBLISH_ACKS frame (the documented bound). */
export const ACKS_PER_FRAME_MAX = 1024;
/** Scratch for queued acks: 1024 acks of a 32-byte hash take at most 1024 × 58 bytes. */
const ACK_SCRATCH_BYTES = 64 * 1024;

/** Most bytes one connection batches while corked before they are written anyway. */
const CORK_BYTES_MAX = 64 * 1024;

/**
 * Sends wire frames to connections within the send-queue bound. Over the bound, the connection
 * is handed to `onSlowConsumer` and nothing is sent.
 */
export class Outbound {
  /** Batch size per connection before a corked socket is written anyway (≤ 1/8 of the send queue). */
  private readonly corkBytesMax: number;
  /** Connections corked in the current tick; uncorked together on the next tick (see `cork`). */
  private corkedConnections: Connection[] = [];
  private spareCorkList: Connection[] = [];
  private uncorkScheduled = false;
  /** The connection whose acks are queued in `ackScratch` (one at a time: see `queueAck`). */
  private ackConnection: Connection | undefined;
  private readonly ackScratch = Buffer.allocUnsafe(ACK_SCRATCH_BYTES);
  private ackBytes = 0;
  private ackCount = 0;
  /** Key and length bytes in front of the first queued ack body. */
  private firstAckHeaderBytes = 0;

  /**
   * @param sendQueueBytesMax bytes queued to one connection before it is a slow consumer.
   * @param onSlowConsumer called once when a send would exceed the bound.
   */
  constructor(
    readonly sendQueueBytesMax: number,
    private readonly onSlowConsumer: (connection: Connection) => void,
  ) {
    // A batch written at once stays counted in `bufferedAmount` until the whole write completes,
    // so batches are kept small against the slow-consumer bound.
    this.corkBytesMax = Math.min(CORK_BYTES_MAX, Math.floor(sendQueueBytesMax / 8));
  }

  /** Sends one frame unless the connection's queue is over its bound (then: slow consumer). */
  send(connection: Connection, frame: Frame | WireFrame): boolean {
    // Queued acks go first: frames to one connection never change order.
    if (this.ackConnection === connection) this.flushAcks();
    if (connection.closing || connection.ws.readyState !== WebSocket.OPEN || !connection.socket.writable) return false;
    const bytes = Buffer.isBuffer(frame) ? (frame as WireFrame) : wireFrame(frame as Frame);
    if (connection.ws.bufferedAmount - connection.corkedBytes + bytes.length > this.sendQueueBytesMax) {
      this.onSlowConsumer(connection);
      return false;
    }
    this.cork(connection);
    connection.socket.write(bytes);
    connection.corkedBytes += bytes.length;
    if (connection.corkedBytes >= this.corkBytesMax) this.uncork(connection);
    return true;
  }

  /** Writes `frame` regardless of the bound (the last word to a connection being cut off). */
  sendUnbounded(connection: Connection, frame: Frame): void {
    if (this.ackConnection === connection) this.flushAcks();
    if (connection.ws.readyState === WebSocket.OPEN && connection.socket.writable) connection.socket.write(wireFrame(frame));
  }

  /**
   * ws emits every message of one socket read synchronously; each write would be its own
   * `writev` system call (the largest cost in a profile). Corking the socket on the first send of
   * a tick and uncorking every corked socket once on the next tick writes each batch in one call.
   * A batch over `corkBytesMax` is written at once. Bytes queued while corked are not
   * counted against the slow-consumer bound (the kernel has not had the chance to take them).
   */
  /**
   * Queues a PUBLISH_ACK to a connection that turned ack batches on. The acks queued for one
   * connection leave together as one PUBLISH_ACKS frame (a lone one as a plain PUBLISH_ACK) when
   * anything else is sent to that connection, when acks for another connection are queued, after
   * {@link ACKS_PER_FRAME_MAX} acks, or at the end of the event-loop turn. ws emits the messages
   * of one socket read together, so one connection's publishes arrive in a run, and one shared
   * scratch buffer serves every connection without per-connection memory.
   */
  queueAck(connection: Connection, requestId: number, hash: Uint8Array, duplicate: boolean, storedAtNs: bigint): void {
    if (this.ackConnection !== connection || this.ackBytes + 64 + hash.length > ACK_SCRATCH_BYTES) this.flushAcks();
    if (this.ackConnection === undefined) {
      this.ackConnection = connection;
      this.cork(connection);
    }
    const bodyBytes = publishAckBodyBytes(requestId, hash, duplicate, storedAtNs);
    const scratch = this.ackScratch;
    const start = this.ackBytes;
    scratch[start] = 0x0a; // field 1, length-delimited
    const bodyStart = writeVarint(scratch, start + 1, bodyBytes, 0);
    if (this.ackCount === 0) this.firstAckHeaderBytes = bodyStart - start;
    this.ackBytes = writePublishAckBody(scratch, bodyStart, requestId, hash, duplicate);
    this.ackCount += 1;
    if (this.ackCount >= ACKS_PER_FRAME_MAX) this.flushAcks();
  }

  /** Sends the queued acks of `connection` now, if it has any (e.g. before it turns batching off). */
  flushAcksOf(connection: Connection): void {
    if (this.ackConnection === connection) this.flushAcks();
  }

  /** Sends the queued acks as one frame through {@link send} (so within the send-queue bound). */
  private flushAcks(): void {
    const connection = this.ackConnection;
    if (connection === undefined) return;
    this.ackConnection = undefined;
    const count = this.ackCount;
    const used = this.ackBytes;
    this.ackCount = 0;
    this.ackBytes = 0;
    // A lone ack is a plain PUBLISH_ACK: its body without the element's key and length.
    const skip = count === 1 ? this.firstAckHeaderBytes : 0;
    const start = wireStart(2 + used - skip, count === 1 ? FrameType.PublishAck : FrameType.PublishAcks);
    this.ackScratch.copy(start.out, start.position, skip, used);
    this.send(connection, start.out as WireFrame);
  }

  private cork(connection: Connection): void {
    if (connection.corked) return;
    connection.corked = true;
    connection.socket.cork();
    this.corkedConnections.push(connection);
    if (!this.uncorkScheduled) {
      this.uncorkScheduled = true;
      process.nextTick(this.uncorkAll);
    }
  }

  private readonly uncorkAll = (): void => {
    this.uncorkScheduled = false;
    this.flushAcks();
    // Swap lists first: an uncork can emit events whose handlers send (and cork) again.
    const corked = this.corkedConnections;
    this.corkedConnections = this.spareCorkList;
    this.spareCorkList = corked;
    for (const connection of corked) this.uncork(connection);
    corked.length = 0;
  };

  /** Hands a connection's corked batch to the kernel now. */
  uncork(connection: Connection): void {
    if (!connection.corked) return;
    connection.corked = false;
    connection.corkedBytes = 0;
    connection.socket.uncork();
  }
}
