/**
 * The relay's sending side of each connection: WebSocket framing, write batching and the
 * slow-consumer bound. Relay frames are written as complete WebSocket binary messages built in
 * one allocation (header + frame), straight to the TCP socket: the server never masks, never
 * compresses and never fragments, so a frame is its 2/4/10-byte header and the bytes (RFC 6455
 * §5.2). A MESSAGE frame is built once per publish and the same bytes go to every subscriber.
 * The frames of one event-loop turn leave in one write per socket (see `Outbound`).
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
  /** The TCP socket under `ws`. */
  readonly socket: Duplex;
  /**
   * Frames queued in this event-loop turn, written to `socket` in one piece at its end (see
   * {@link Outbound}); `batchBytes` of it are used. Not yet handed to the socket, so not counted
   * against the slow-consumer bound.
   */
  batch: Buffer;
  batchBytes: number;
  /** Bytes of the last batch written: the next one starts at that size (no doubling steps again). */
  lastBatchBytes: number;
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

/** Most bytes one connection batches before they are written anyway. */
const BATCH_BYTES_MAX = 64 * 1024;
/** A fresh batch's size (it doubles up to the bound as frames arrive). */
const BATCH_BYTES_MIN = 2 * 1024;
/** Written full-size batches kept for reuse once the socket is done with them. */
const SPARE_BATCHES_MAX = 32;
/** The batch of a connection with nothing queued. */
export const NO_BATCH = Buffer.alloc(0);

/**
 * Sends wire frames to connections within the send-queue bound. Over the bound, the connection
 * is handed to `onSlowConsumer` and nothing is sent.
 *
 * ws emits every message of one socket read synchronously, and each publish sends a frame or two;
 * a `socket.write` per frame was the largest cost in a profile (a stream entry each, a `writev`
 * of hundreds of pieces). So the frames a connection gets in one event-loop turn are copied into
 * one buffer of its own and written once, on the next tick or when the batch reaches its bound.
 * Anything written to the socket directly (a frame over the bound, the last word to a slow
 * consumer, a close) goes after the batch: call {@link flush} first.
 */
export class Outbound {
  /** Batch size per connection before it is written anyway (≤ 1/8 of the send queue). */
  private readonly batchBytesMax: number;
  /** Connections with a batch in the current turn; flushed together on the next tick. */
  private batchedConnections: Connection[] = [];
  private spareBatchList: Connection[] = [];
  private flushScheduled = false;
  /**
   * Full-size batches whose writes completed, for reuse: a fresh 64 KiB buffer per connection
   * per turn is memory outside the heap that the garbage collector must account for (at 50
   * subscribers it cost more than the batching saved).
   */
  private readonly spareBatches: Buffer[] = [];
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
    this.batchBytesMax = Math.max(1, Math.min(BATCH_BYTES_MAX, Math.floor(sendQueueBytesMax / 8)));
  }

  /** Sends one frame unless the connection's queue is over its bound (then: slow consumer). */
  send(connection: Connection, frame: Frame | WireFrame): boolean {
    // Queued acks go first: frames to one connection never change order.
    if (this.ackConnection === connection) this.flushAcks();
    if (connection.closing || connection.ws.readyState !== WebSocket.OPEN || !connection.socket.writable) return false;
    const bytes = Buffer.isBuffer(frame) ? (frame as WireFrame) : wireFrame(frame as Frame);
    if (connection.ws.bufferedAmount + bytes.length > this.sendQueueBytesMax) {
      this.onSlowConsumer(connection);
      return false;
    }
    this.append(connection, bytes);
    return true;
  }

  /** Writes `frame` regardless of the bound (the last word to a connection being cut off). */
  sendUnbounded(connection: Connection, frame: Frame): void {
    this.flush(connection);
    if (connection.ws.readyState === WebSocket.OPEN && connection.socket.writable) connection.socket.write(wireFrame(frame));
  }

  /** Queues `bytes` (whole frames) in the connection's batch; a frame over the batch bound is written as it is. */
  private append(connection: Connection, bytes: Buffer): void {
    const length = bytes.length;
    if (connection.batchBytes + length > connection.batch.length) {
      if (connection.batchBytes + length > this.batchBytesMax) this.flush(connection);
      if (length > this.batchBytesMax) return void connection.socket.write(bytes);
      this.grow(connection, connection.batchBytes + length);
    }
    if (connection.batchBytes === 0) this.schedule(connection);
    // `set` is a plain memmove; `Buffer#copy` adds argument checks worth ~0.1 µs per frame.
    connection.batch.set(bytes, connection.batchBytes);
    connection.batchBytes += length;
  }

  /** Gives the connection a batch of at least `bytes` (≤ the bound), keeping what is queued. */
  private grow(connection: Connection, bytes: number): void {
    let size = Math.max(BATCH_BYTES_MIN, 2 * connection.batch.length, connection.lastBatchBytes);
    while (size < bytes) size *= 2;
    // Small batches come from Node's shared pool; anything larger is a full-size (reused) one.
    const batch = size <= BATCH_BYTES_MIN || this.batchBytesMax <= BATCH_BYTES_MIN ? Buffer.allocUnsafe(Math.min(size, this.batchBytesMax)) : (this.spareBatches.pop() ?? Buffer.allocUnsafeSlow(this.batchBytesMax));
    if (connection.batchBytes > 0) batch.set(connection.batch.subarray(0, connection.batchBytes));
    connection.batch = batch;
  }

  private schedule(connection: Connection): void {
    this.batchedConnections.push(connection);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flushAll);
    }
  }

  /**
   * Writes the connection's batch to its socket now (before anything written to the socket
   * directly, such as a close). A batch for a connection no longer open is dropped: after a close
   * frame nothing may follow.
   */
  flush(connection: Connection): void {
    if (this.ackConnection === connection) this.flushAcks();
    const used = connection.batchBytes;
    if (used === 0) return;
    const batch = connection.batch;
    connection.batch = NO_BATCH;
    connection.batchBytes = 0;
    connection.lastBatchBytes = used;
    if (connection.ws.readyState !== WebSocket.OPEN || !connection.socket.writable) return this.recycle(batch);
    const bytes = used === batch.length ? batch : batch.subarray(0, used);
    if (batch.length === this.batchBytesMax && batch.length > BATCH_BYTES_MIN) connection.socket.write(bytes, () => this.recycle(batch));
    else connection.socket.write(bytes);
  }

  /** Keeps a full-size batch nothing refers to any more (its write completed) for reuse. */
  private recycle(batch: Buffer): void {
    if (batch.length === this.batchBytesMax && batch.length > BATCH_BYTES_MIN && this.spareBatches.length < SPARE_BATCHES_MAX) this.spareBatches.push(batch);
  }

  private readonly flushAll = (): void => {
    this.flushScheduled = false;
    this.flushAcks();
    // Swap lists first: a write can emit events whose handlers send (and batch) again.
    const batched = this.batchedConnections;
    this.batchedConnections = this.spareBatchList;
    this.spareBatchList = batched;
    for (const connection of batched) this.flush(connection);
    batched.length = 0;
  };

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
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        process.nextTick(this.flushAll);
      }
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
}
