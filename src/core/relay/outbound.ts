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
import { frameBytes, type Frame, writeFrame } from "./protocol.js";
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
}

/** First byte of an unfragmented binary WebSocket message: FIN + opcode 2. */
const FIN_BINARY = 0x82;

/** WebSocket header bytes of an unmasked message of `length` bytes. */
function headerBytes(length: number): number {
  return length <= 125 ? 2 : length <= 0xffff ? 4 : 10;
}

/** Encodes `frame` as a whole unmasked WebSocket binary message (header and frame, one Buffer). */
export function wireFrame(frame: Frame): WireFrame {
  const length = frameBytes(frame);
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
  writeFrame(frame, out, header);
  return out as WireFrame;
}

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
    if (connection.ws.readyState === WebSocket.OPEN && connection.socket.writable) connection.socket.write(wireFrame(frame));
  }

  /**
   * ws emits every message of one socket read synchronously; each write would be its own
   * `writev` system call (the largest cost in a profile). Corking the socket on the first send of
   * a tick and uncorking every corked socket once on the next tick writes each batch in one call.
   * A batch over `corkBytesMax` is written at once. Bytes queued while corked are not
   * counted against the slow-consumer bound (the kernel has not had the chance to take them).
   */
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
