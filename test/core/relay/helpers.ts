/** Raw WebSocket clients and small waits for relay tests (loopback only). */
import { WebSocket } from "ws";
import { decodeFrame } from "../../../src/core/relay/frame-decode.js";
import { encodeFrame, type Frame, type FrameOf } from "../../../src/core/relay/protocol.js";

export interface RawClient {
  ws: WebSocket;
  frames: Frame[];
  closed: Promise<{ code: number; reason: string }>;
  send(frame: Frame): void;
  /** Resolves with the first frame (already received or future) of `type` matching `where`. */
  next<K extends Frame["type"]>(type: K, where?: (frame: FrameOf<K>) => boolean): Promise<FrameOf<K>>;
  of<K extends Frame["type"]>(type: K): FrameOf<K>[];
}

export async function rawClient(url: string): Promise<RawClient> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const frames: Frame[] = [];
  const waiters: Array<() => void> = [];
  ws.on("message", (data: Buffer) => {
    frames.push(decodeFrame(new Uint8Array(data)));
    for (const wake of waiters.splice(0)) wake();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on("close", (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const wake of waiters.splice(0)) wake();
    }),
  );
  ws.on("error", () => undefined);
  const client: RawClient = {
    ws,
    frames,
    closed,
    send: (frame) => ws.send(encodeFrame(frame)),
    of: <K extends Frame["type"]>(type: K) => frames.filter((frame): frame is FrameOf<K> => frame.type === type),
    next: <K extends Frame["type"]>(type: K, where: (frame: FrameOf<K>) => boolean = () => true) =>
      new Promise<FrameOf<K>>((resolve, reject) => {
        const check = () => {
          const found = client.of(type).find(where);
          if (found) return resolve(found);
          if (ws.readyState === WebSocket.CLOSED) return reject(new Error(`closed before a ${type} frame`));
          waiters.push(check);
        };
        check();
      }),
  };
  await client.next("welcome");
  return client;
}

/** Polls `condition` every 10 ms until true (the test timeout bounds it). */
export async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** A frame round trip on `client` (ping/pong), so everything sent before it was processed. */
export async function roundTrip(client: RawClient, nonce: number): Promise<void> {
  client.send({ type: "ping", nonce });
  await client.next("pong", (frame) => frame.nonce === nonce);
}
