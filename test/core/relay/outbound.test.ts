import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { wireFrame, wireMessage, wirePublishAck } from "../../../src/core/relay/outbound.js";
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
