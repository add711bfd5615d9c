import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_ENVELOPE_LIMITS, DEFAULT_PUBSUB_TOPIC, decodeEnvelope, encodeEnvelope, isContentTopic, messageHash, toHex } from "../../../src/core/relay/envelope.js";
import { decodeFrame } from "../../../src/core/relay/frame-decode.js";
import { encodeFrame, type FrameOf } from "../../../src/core/relay/protocol.js";
import { readPublish } from "../../../src/core/relay/publish-path.js";
import { ProtoWriter } from "../../../src/core/protocol/wire/proto.js";
import { testSeed } from "./seed.js";

const PUBSUB = Buffer.from(DEFAULT_PUBSUB_TOPIC, "utf8");
const LIMITS = DEFAULT_ENVELOPE_LIMITS;

const envelopes = fc.record(
  {
    payload: fc.uint8Array({ maxLength: 300 }),
    contentTopic: fc.oneof(fc.constantFrom("/sds/1/demo/proto", "/a/1/b/c", "bad", "/a//b/c"), fc.string({ maxLength: 40 })),
    version: fc.integer({ min: 0, max: 0xffff_ffff }),
    timestampNs: fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
    meta: fc.uint8Array({ maxLength: 80 }),
    ephemeral: fc.boolean(),
  },
  { requiredKeys: ["payload", "contentTopic"] },
);

/** The slow path's answer, or "fallback" when it throws (the fast path must then defer too). */
function reference(frame: Buffer): { requestId: number; envelope: string; contentTopic: string; ephemeral: boolean; hash: string } | "error" {
  try {
    const decoded = decodeFrame(frame) as FrameOf<"publish">;
    const envelope = decodeEnvelope(decoded.envelope, LIMITS);
    return { requestId: decoded.requestId, envelope: toHex(decoded.envelope), contentTopic: envelope.contentTopic, ephemeral: envelope.ephemeral === true, hash: toHex(messageHash(DEFAULT_PUBSUB_TOPIC, envelope)) };
  } catch {
    return "error";
  }
}

describe("publish fast path", () => {
  it("agrees with the full decoders and messageHash whenever it answers, and answers for well-formed envelopes", () => {
    const seed = testSeed("publish fast path");
    let answered = 0;
    fc.assert(
      fc.property(envelopes, fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (value, requestId) => {
        const frame = Buffer.from(encodeFrame({ type: "publish", requestId, envelope: encodeEnvelope(value) }));
        const fast = readPublish(frame, PUBSUB, LIMITS);
        const slow = reference(frame);
        if (fast === undefined) {
          // Only non-ASCII topics and over-limit meta may defer on well-formed input.
          const asciiTopic = /^[\x00-\x7f]*$/.test(value.contentTopic);
          expect(slow === "error" || !asciiTopic || (value.meta?.length ?? 0) > LIMITS.metaBytesMax || value.contentTopic === "").toBe(true);
          return;
        }
        answered += 1;
        expect(slow).not.toBe("error");
        expect(fast && { requestId: fast.requestId, envelope: toHex(fast.envelope), contentTopic: fast.contentTopic, ephemeral: fast.ephemeral, hash: toHex(fast.hash) }).toEqual(slow);
      }),
      { seed, numRuns: 500 },
    );
    expect(answered).toBeGreaterThan(100);
  }, 30_000);

  it("defers (never answers differently) on mutated and truncated frames", () => {
    const seed = testSeed("publish fast path mutations");
    fc.assert(
      fc.property(envelopes, fc.nat(), fc.nat(255), fc.nat(), (value, where, byte, cut) => {
        const frame = Buffer.from(encodeFrame({ type: "publish", requestId: 5, envelope: encodeEnvelope(value) }));
        const mutated = Buffer.from(frame);
        mutated[where % mutated.length] = byte;
        for (const candidate of [mutated, frame.subarray(0, cut % frame.length)]) {
          const fast = readPublish(candidate, PUBSUB, LIMITS);
          if (fast === undefined) continue;
          const slow = reference(candidate);
          expect(slow).not.toBe("error");
          expect({ requestId: fast.requestId, envelope: toHex(fast.envelope), contentTopic: fast.contentTopic, ephemeral: fast.ephemeral, hash: toHex(fast.hash) }).toEqual(slow);
        }
      }),
      { seed, numRuns: 500 },
    );
  }, 30_000);

  it("defers on a repeated content topic whose first copy is not UTF-8 (seed 1918213283)", () => {
    const frame = Buffer.from("01030805122d120900000000000000008012072f612f2f622f6318808080800150818080808080808080015a06000000000000", "hex");
    expect(reference(frame)).toBe("error");
    expect(readPublish(frame, PUBSUB, LIMITS)).toBeUndefined();
  });

  it("hashes envelopes larger than its scratch buffer (streamed) like messageHash", () => {
    for (const meta of [undefined, new Uint8Array([1, 2, 3])]) {
      const value = { payload: new Uint8Array(70_000).fill(7), contentTopic: "/sds/1/demo/proto", timestampNs: -5n, meta };
      const frame = Buffer.from(encodeFrame({ type: "publish", requestId: 3, envelope: encodeEnvelope(value) }));
      const view = readPublish(frame, new TextEncoder().encode(DEFAULT_PUBSUB_TOPIC), { ...LIMITS, envelopeBytesMax: 100_000 });
      expect(view && toHex(view.hash)).toBe(toHex(messageHash(DEFAULT_PUBSUB_TOPIC, value)));
    }
  });

  it("hashes with each relay's own pubsub topic when relays with different ones alternate in one process", () => {
    const value = { payload: new Uint8Array([1, 2, 3]), contentTopic: "/sds/1/demo/proto", timestampNs: 7n };
    const frame = Buffer.from(encodeFrame({ type: "publish", requestId: 1, envelope: encodeEnvelope(value) }));
    const topics = ["/waku/2/one/proto", "/waku/2/another-and-longer/proto"].map((topic) => ({ topic, bytes: new TextEncoder().encode(topic) }));
    for (const { topic, bytes } of [...topics, ...topics.reverse()]) {
      const view = readPublish(frame, bytes, LIMITS);
      expect(view && toHex(view.hash)).toBe(toHex(messageHash(topic, value)));
    }
  });

  it("defers on unknown fields and other frame types", () => {
    const envelope = encodeEnvelope({ payload: new Uint8Array([1]), contentTopic: "/sds/1/demo/proto" });
    const withUnknown = new ProtoWriter().raw(Uint8Array.of(1, 3)).uint64Field(1, 1).bytesField(2, envelope).uint64Field(9, 1).finish();
    expect(readPublish(Buffer.from(withUnknown), PUBSUB, LIMITS)).toBeUndefined();
    expect(readPublish(Buffer.from(encodeFrame({ type: "ping", nonce: 1 })), PUBSUB, LIMITS)).toBeUndefined();
    expect(readPublish(Buffer.from(encodeFrame({ type: "publish", requestId: 1, envelope })), PUBSUB, { ...LIMITS, envelopeBytesMax: 3 })).toBeUndefined();
  });
});

describe("isContentTopic", () => {
  it("matches the four-part split rule", () => {
    const splitRule = (topic: string) => {
      const parts = topic.split("/");
      return parts.length === 5 && parts[0] === "" && parts.slice(1).every((part) => part.length > 0);
    };
    const seed = testSeed("isContentTopic");
    const topics = fc.oneof(fc.string({ maxLength: 12, unit: fc.constantFrom("/", "a", "1", "é") }), fc.string());
    fc.assert(
      fc.property(topics, (topic) => {
        expect(isContentTopic(topic)).toBe(splitRule(topic));
      }),
      { seed, numRuns: 2000 },
    );
    for (const topic of ["/a/b/c/d", "/a/b/c/d/", "//b/c/d", "/a/b//d", "a/b/c/d", "/a/b/c", "/", ""]) expect(isContentTopic(topic)).toBe(splitRule(topic));
  });
});

describe("single-allocation encoders", () => {
  it("write MESSAGE and PUBLISH_ACK exactly as the generic proto writer does", () => {
    const seed = testSeed("relay encoders");
    const uint64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.uint8Array({ maxLength: 400 }), fc.uint8Array({ maxLength: 40 }), uint64, fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.boolean(), (topic, envelope, hash, storedAtNs, requestId, duplicate) => {
        const message = new ProtoWriter().raw(Uint8Array.of(1, 0x81));
        if (topic.length > 0) message.stringField(1, topic);
        if (envelope.length > 0) message.bytesField(2, envelope);
        if (hash.length > 0) message.bytesField(3, hash);
        if (storedAtNs !== 0n) message.uint64Field(4, storedAtNs);
        expect(toHex(encodeFrame({ type: "message", topic, envelope, hash, storedAtNs }))).toBe(toHex(message.finish()));
        const ack = new ProtoWriter().raw(Uint8Array.of(1, 0x82));
        if (requestId !== 0) ack.uint64Field(1, requestId);
        if (hash.length > 0) ack.bytesField(2, hash);
        if (duplicate) ack.uint64Field(3, 1);
        if (storedAtNs !== 0n) ack.uint64Field(4, storedAtNs);
        expect(toHex(encodeFrame({ type: "publishAck", requestId, hash, duplicate, storedAtNs }))).toBe(toHex(ack.finish()));
      }),
      { seed, numRuns: 500 },
    );
  });
});
