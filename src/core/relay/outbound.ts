/**
 * The relay's sending side of each connection: write batching, acknowledgement batches and the
 * slow-consumer bound. Frames arrive as finished WebSocket messages (`wire-frames.ts`); a MESSAGE
 * is built once per publish and the same bytes go to every subscriber. The frames of one
 * event-loop turn leave in one write per socket (see `Outbound`).
 */
import type { Duplex } from "node:stream";
import { WebSocket } from "ws";
import type { TokenBucket } from "./limits.js";
import { type Frame, FrameType, writeVarint } from "./protocol.js";
import { publishAckBodyBytes, wireFrame, type WireFrame, wireStart, writePublishAckBody } from "./wire-frames.js";

export { wireFrame, type WireFrame, wireMessage, wirePublishAck } from "./wire-frames.js";

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
  /** Shared frames are written by reference to the corked socket (see {@link Outbound.send}). */
  corked: boolean;
  /** Bytes written while corked (not handed to the kernel yet, so not a sign of a slow consumer). */
  corkedBytes: number;
  readonly topics: Set<string>;
  readonly bucket: TokenBucket;
  closing: boolean;
  alive: boolean;
  /** The client turned on ack batches (HELLO): its PUBLISH_ACKs of one turn leave as one PUBLISH_ACKS. */
  acksBatched: boolean;
}

/** Most acknowledgements in one PUBLISH_ACKS frame (the documented bound). */
export const ACKS_PER_FRAME_MAX = 1024;
/** Scratch for queued acks: 1024 acks of a 32-byte hash take at most 1024 × 58 bytes. */
const ACK_SCRATCH_BYTES = 64 * 1024;

/** Most bytes one connection batches before they are written anyway. */
const BATCH_BYTES_MAX = 64 * 1024;
/** A fresh batch's size (it doubles up to the bound as frames arrive). */
const BATCH_BYTES_MIN = 256;
/**
 * Batches up to this size are slices of Node's shared buffer pool; larger ones are full-size and
 * reused. (A 2 KiB first batch per connection showed as +2 KiB of resident memory per idle
 * connection: the welcome frame's pool slice, not yet collected.)
 */
const POOLED_BATCH_BYTES_MAX = 4 * 1024;
/** Written full-size batches kept for reuse once the socket is done with them. */
const SPARE_BATCHES_MAX = 128;
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
  /** Connections corked in the current turn (shared frames); uncorked after the batches. */
  private corkedConnections: Connection[] = [];
  private spareCorkList: Connection[] = [];
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

  /**
   * Sends one frame unless the connection's queue is over its bound (then: slow consumer).
   * `shared`: the same bytes go to many connections in this turn (a MESSAGE to a big topic). They
   * are then written by reference to the corked socket, not copied into each batch: 50 batches of
   * 64 KiB outgrow the CPU caches, and the copies cost more than the stream writes they save.
   */
  send(connection: Connection, frame: Frame | WireFrame, shared = false): boolean {
    // Queued acks go first: frames to one connection never change order.
    if (this.ackConnection === connection) this.flushAcks();
    if (connection.closing || connection.ws.readyState !== WebSocket.OPEN || !connection.socket.writable) return false;
    const bytes = Buffer.isBuffer(frame) ? (frame as WireFrame) : wireFrame(frame as Frame);
    if (connection.ws.bufferedAmount - connection.corkedBytes + bytes.length > this.sendQueueBytesMax) {
      this.onSlowConsumer(connection);
      return false;
    }
    if (!shared) {
      this.append(connection, bytes);
      return true;
    }
    // The batch holds earlier frames: it goes first.
    this.flush(connection);
    this.cork(connection);
    connection.socket.write(bytes);
    connection.corkedBytes += bytes.length;
    if (connection.corkedBytes >= this.batchBytesMax) this.uncork(connection);
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
    const batch = size <= POOLED_BATCH_BYTES_MAX || this.batchBytesMax <= POOLED_BATCH_BYTES_MAX ? Buffer.allocUnsafe(Math.min(size, this.batchBytesMax)) : (this.spareBatches.pop() ?? Buffer.allocUnsafeSlow(this.batchBytesMax));
    if (connection.batchBytes > 0) batch.set(connection.batch.subarray(0, connection.batchBytes));
    connection.batch = batch;
  }

  private schedule(connection: Connection): void {
    this.batchedConnections.push(connection);
    this.scheduleFlush();
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
    if (batch.length === this.batchBytesMax && batch.length > POOLED_BATCH_BYTES_MAX) connection.socket.write(bytes, () => this.recycle(batch));
    else connection.socket.write(bytes);
  }

  /** Keeps a full-size batch nothing refers to any more (its write completed) for reuse. */
  private recycle(batch: Buffer): void {
    if (batch.length === this.batchBytesMax && batch.length > POOLED_BATCH_BYTES_MAX && this.spareBatches.length < SPARE_BATCHES_MAX) this.spareBatches.push(batch);
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
    // After the batches: a batch written after a corked write is queued behind it, in order.
    const corked = this.corkedConnections;
    this.corkedConnections = this.spareCorkList;
    this.spareCorkList = corked;
    for (const connection of corked) this.uncork(connection);
    corked.length = 0;
  };

  private cork(connection: Connection): void {
    if (connection.corked) return;
    connection.corked = true;
    connection.socket.cork();
    this.corkedConnections.push(connection);
    this.scheduleFlush();
  }

  /** Hands a connection's corked writes to the kernel now. */
  private uncork(connection: Connection): void {
    if (!connection.corked) return;
    connection.corked = false;
    connection.corkedBytes = 0;
    connection.socket.uncork();
  }

  private scheduleFlush(): void {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flushAll);
    }
  }

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
      this.scheduleFlush();
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
