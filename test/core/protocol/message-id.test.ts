import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { MessageChannel } from "@waku/sds";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { contentMessageId, uniqueMessageId } from "../../../src/core/protocol/message-id.js";

const seed = Number(process.env.SDS_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`message-id.test.ts seed ${seed} (set SDS_SEED to replay)`);
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

describe("contentMessageId (js-waku MessageChannel.getMessageId)", () => {
  it("is sha256 hex of the payload", () => {
    expect(contentMessageId(utf8("hello"))).toBe("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    expect(contentMessageId(new Uint8Array(0))).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });
  it("equals @waku/sds for random payloads (fast-check)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (payload) => {
        expect(contentMessageId(payload)).toBe(MessageChannel.getMessageId(payload));
      }),
      { numRuns: 500, seed },
    );
  });
});

describe("uniqueMessageId (Reliable Channel API spec)", () => {
  it("is keccak256 of sender ‖ decimal ns ‖ payload, lowercase hex", () => {
    const id = uniqueMessageId("alice", 1_700_000_000_123_456_789n, utf8("hi"));
    expect(id).toBe(Buffer.from(keccak_256(utf8("alice1700000000123456789hi"))).toString("hex"));
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    // Keccak-256, not SHA3-256: the empty-input digest is the Ethereum one.
    expect(uniqueMessageId("", 0n, new Uint8Array(0))).toBe(Buffer.from(keccak_256(utf8("0"))).toString("hex"));
    expect(Buffer.from(keccak_256(new Uint8Array(0))).toString("hex")).toBe("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
  });
  it("differs for the same payload at another time or from another sender", () => {
    const payload = utf8("same");
    const ids = new Set([uniqueMessageId("a", 1n, payload), uniqueMessageId("a", 2n, payload), uniqueMessageId("b", 1n, payload)]);
    expect(ids.size).toBe(3);
  });
  it("rejects a negative timestamp", () => {
    expect(() => uniqueMessageId("a", -1n, new Uint8Array(0))).toThrow(RangeError);
  });
});
