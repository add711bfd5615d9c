import type { Duplex } from "node:stream";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { TokenBucket } from "../../../src/core/relay/limits.js";
import { type Connection, NO_BATCH, Outbound, wireFrame, wireMessage, type WireFrame, wirePublishAck } from "../../../src/core/relay/outbound.js";
import { testSeed } from "./seed.js";

const storeTimes = fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 1_700_000_000_000_000_000n, max: 1_900_000_000_000_000_000n }));
const hashes = fc.oneof(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 40 }));

describe("hot-path wire frames", () => {
  it("wireMessage writes the bytes of the table-driven encoder (sizes across every WebSocket header length)", () => {
    const seed = testSeed("outbound wireMessage");
    fc.assert(
      fc.property(
        fc.oneof(fc.constantFrom("/sds/1/demo/proto", "", "/ü/1/€/x"), fc.string({ maxLength: 200 }), fc.string({ unit: "grapheme", maxLength: 50 })),
        fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: 70_000 }).map((length) => new Uint8Array(length).fill(7))),
        hashes,
        storeTimes,
        (topic, envelope, hash, storedAtNs) => {
          expect(Buffer.compare(wireMessage(topic, envelope, hash, storedAtNs), wireFrame({ type: "message", topic, envelope, hash, storedAtNs }))).toBe(0);
        },
      ),
      { seed, numRuns: 300 },
    );
  });

  it("wirePublishAck writes the bytes of the table-driven encoder", () => {
    const seed = testSeed("outbound wirePublishAck");
    fc.assert(
      fc.property(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 300 }), fc.maxSafeNat()), hashes, fc.boolean(), storeTimes, (requestId, hash, duplicate, storedAtNs) => {
        expect(Buffer.compare(wirePublishAck(requestId, hash, duplicate, storedAtNs), wireFrame({ type: "publishAck", requestId, hash, duplicate, storedAtNs }))).toBe(0);
      }),
      { seed, numRuns: 500 },
    );
  });

  it("wirePublishAck refuses a request id outside the safe integers", () => {
    expect(() => wirePublishAck(-1, new Uint8Array(32), false, 1n)).toThrow(RangeError);
    expect(() => wirePublishAck(2 ** 53, new Uint8Array(32), false, 1n)).toThrow(RangeError);
  });
});

describe("Outbound batches", () => {
  /** A connection over fake ws/socket objects that record every socket write. */
  function fakeConnection(writes: Buffer[], state: { open: boolean; buffered: number }): Connection {
    const ws = { get readyState() { return state.open ? WebSocket.OPEN : WebSocket.CLOSING; }, get bufferedAmount() { return state.buffered; } };
    // Writes while corked wait until the last uncork, as on a real socket.
    let corks = 0;
    const corked: Buffer[] = [];
    const socket = {
      writable: true,
      cork: () => void (corks += 1),
      uncork: () => {
        corks -= 1;
        if (corks === 0) writes.push(...corked.splice(0));
      },
      write: (bytes: Buffer) => void (corks > 0 ? corked : writes).push(Buffer.from(bytes)),
    };
    return { id: 1, ws: ws as unknown as WebSocket, socket: socket as unknown as Duplex, batch: NO_BATCH, batchBytes: 0, lastBatchBytes: 0, corked: false, corkedBytes: 0, topics: new Set(), bucket: new TokenBucket(1, 1, () => 0), closing: false, alive: true, acksBatched: false };
  }
  const tick = () => new Promise<void>((resolve) => process.nextTick(resolve));

  it("writes a turn's frames in order and whole (batched, or shared ones by reference), in pieces within the batch bound, and frames over it as they are", async () => {
    const seed = testSeed("outbound batches");
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(fc.tuple(fc.oneof({ arbitrary: fc.integer({ min: 1, max: 3000 }), weight: 8 }, { arbitrary: fc.integer({ min: 60_000, max: 140_000 }), weight: 1 }), fc.boolean()), { maxLength: 60 }), { minLength: 1, maxLength: 4 }), async (turns) => {
        const writes: Buffer[] = [];
        const connection = fakeConnection(writes, { open: true, buffered: 0 });
        const outbound = new Outbound(8 * 1024 * 1024, () => expect.unreachable("no slow consumer"));
        const sent: Buffer[] = [];
        for (const [turn, sizes] of turns.entries()) {
          for (const [index, [size, shared]] of sizes.entries()) {
            const frame = Buffer.alloc(size, (turn * 61 + index) % 251) as WireFrame;
            sent.push(Buffer.from(frame));
            expect(outbound.send(connection, frame, shared)).toBe(true);
          }
          await tick();
          expect(connection.batchBytes).toBe(0);
        }
        expect(Buffer.compare(Buffer.concat(writes), Buffer.concat(sent))).toBe(0);
        // Only a frame over the bound makes a write over it; batches stay within it.
        for (const write of writes) expect(write.length <= 64 * 1024 || sent.some((frame) => frame.length === write.length && frame.length > 64 * 1024)).toBe(true);
        expect(connection.corked).toBe(false);
      }),
      { seed, numRuns: 60 },
    );
  });

  it("flushes the batch before writing past it, hands a slow consumer over, and drops a batch once the connection is no longer open", async () => {
    const writes: Buffer[] = [];
    const state = { open: true, buffered: 0 };
    const connection = fakeConnection(writes, state);
    let slow = 0;
    const outbound = new Outbound(100_000, () => (slow += 1));
    outbound.send(connection, Buffer.alloc(100, 1) as WireFrame);
    outbound.sendUnbounded(connection, { type: "pong", nonce: 9 });
    expect(writes.map((write) => write.length)).toEqual([100, wireFrame({ type: "pong", nonce: 9 }).length]);
    for (let index = 0; index < 9; index++) expect(outbound.send(connection, Buffer.alloc(100, 2) as WireFrame)).toBe(true);
    state.buffered = 99_950;
    expect(outbound.send(connection, Buffer.alloc(100, 3) as WireFrame)).toBe(false);
    expect(slow).toBe(1);
    // The connection began closing before the turn ended: its queued frames must not follow the close.
    state.open = false;
    await tick();
    expect(writes).toHaveLength(2);
  });
});
