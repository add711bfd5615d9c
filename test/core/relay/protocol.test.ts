import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DecodeError } from "../../../src/core/errors.js";
import { DEFAULT_PUBSUB_TOPIC, encodeEnvelope, messageHash, toHex } from "../../../src/core/relay/envelope.js";
import { ProtoWriter } from "../../../src/core/protocol/wire/proto.js";
import { decodeFrame } from "../../../src/core/relay/frame-decode.js";
import { encodeFrame, type Frame, isClientFrame } from "../../../src/core/relay/protocol.js";
import { testSeed } from "./seed.js";

const hex = (value: string) => new Uint8Array(Buffer.from(value.replace(/\s+/g, ""), "hex"));
const bytes = (length: number, fill: number) => new Uint8Array(length).fill(fill);

const SAMPLES: Frame[] = [
  { type: "subscribe", topics: ["/sds/1/demo/proto", "/sds/1/other/proto"] },
  { type: "unsubscribe", topics: ["/sds/1/demo/proto"] },
  { type: "publish", requestId: 7, envelope: encodeEnvelope({ payload: hex("68690a"), contentTopic: "/sds/1/demo/proto" }) },
  { type: "ping", nonce: 42 },
  { type: "storeQuery", requestId: 9, topic: "/sds/1/demo/proto", hashes: [bytes(32, 1), bytes(32, 2)], sinceTimestampNs: 0n, limit: 0, cursor: new Uint8Array(0) },
  { type: "storeQuery", requestId: 10, topic: "/sds/1/demo/proto", hashes: [], sinceTimestampNs: 1_700_000_000_000_000_000n, limit: 100, cursor: hex("179a3b1f2e000000") },
  { type: "welcome", protocolVersion: 1, pubsubTopic: "/waku/2/default-waku/proto", relayTimeNs: 1_700_000_000_000_000_000n, frameBytesMax: 1_179_648, storeQueryLimitMax: 1000, relayId: "r1", features: 1 },
  { type: "message", topic: "/sds/1/demo/proto", envelope: hex("0a0101"), hash: bytes(32, 3), storedAtNs: 5n },
  { type: "publishAck", requestId: 7, hash: bytes(32, 4), duplicate: true, storedAtNs: 6n },
  { type: "publishReject", requestId: 8, code: "E_RELAY_RATE_LIMITED", reason: "publish rate limit exceeded" },
  { type: "pong", nonce: 42 },
  { type: "storeResponse", requestId: 9, entries: [{ hash: bytes(32, 5), envelope: hex("0a0102"), storedAtNs: 8n }, { hash: bytes(32, 6), envelope: hex("0a0103"), storedAtNs: 9n }], nextCursor: hex("0000000000000009"), code: "", reason: "" },
  { type: "error", code: "E_RELAY_REJECTED", reason: "topic cap reached", requestId: 0, topic: "/sds/1/x/proto" },
  { type: "slowConsumer", bufferedBytes: 9_000_000, limitBytes: 8_388_608 },
  { type: "hello", features: 1 },
  { type: "publishAcks", acks: [{ requestId: 7, hash: bytes(32, 4), duplicate: false, storedAtNs: 6n }, { requestId: 8, hash: bytes(32, 5), duplicate: true, storedAtNs: 6n }] },
];

describe("relay frames", () => {
  it("round-trip every frame type", () => {
    for (const frame of SAMPLES) expect(decodeFrame(encodeFrame(frame))).toEqual(frame);
  });

  it("start with the version byte and the type byte", () => {
    const types = SAMPLES.map((frame) => toHex(encodeFrame(frame).subarray(0, 2)));
    expect(types).toEqual(["0101", "0102", "0103", "0104", "0105", "0105", "0180", "0181", "0182", "0183", "0184", "0185", "0186", "0187", "0106", "0188"]);
    expect(SAMPLES.map(isClientFrame)).toEqual([true, true, true, true, true, true, false, false, false, false, false, false, false, false, true, false]);
  });

  it("encode the documented publish and ack examples byte for byte", () => {
    // docs/relay-protocol.md §8: publish request 7 of payload "hi\n" on /sds/1/demo/proto.
    expect(toHex(encodeFrame(SAMPLES[2] as Frame))).toBe("0103" + "0807" + "1218" + "0a0368690a" + "1211" + Buffer.from("/sds/1/demo/proto").toString("hex"));
    const ack: Frame = { type: "publishAck", requestId: 7, hash: bytes(32, 0xab), duplicate: false, storedAtNs: 1_700_000_000_000_000_000n };
    expect(toHex(encodeFrame(ack))).toBe("0182" + "0807" + "1220" + "ab".repeat(32) + "20" + "8080a8b1e39fe7cb17");
  });

  it("pin the worked example of docs/relay-protocol.md §9", () => {
    const envelope = { payload: new TextEncoder().encode("hi\n"), contentTopic: "/sds/1/demo/proto", timestampNs: 1_700_000_000_000_000_000n, meta: new TextEncoder().encode("RELIABLE-CHANNEL-API/1") };
    const envelopeHex = "0a0368690a12112f7364732f312f64656d6f2f70726f746f508080d0e2c6bfce972f5a1652454c4941424c452d4348414e4e454c2d4150492f31";
    expect(toHex(encodeFrame({ type: "publish", requestId: 7, envelope: encodeEnvelope(envelope) }))).toBe("01030807123a" + envelopeHex);
    const hash = messageHash(DEFAULT_PUBSUB_TOPIC, envelope);
    expect(toHex(hash)).toBe("8f7ac95eb9709a057100712955080d1676570a40786ae37939a6849a2d453a5b");
    expect(toHex(encodeFrame({ type: "publishAck", requestId: 7, hash, duplicate: false, storedAtNs: 1_763_766_000_000_000_000n }))).toBe("018208071220" + toHex(hash) + "2080c0a5c7d0fa89bd18");
  });

  it("pin the WELCOME, HELLO and PUBLISH_ACKS examples of docs/relay-protocol.md §9", () => {
    const welcome: Frame = { type: "welcome", protocolVersion: 1, pubsubTopic: DEFAULT_PUBSUB_TOPIC, relayTimeNs: 1_763_766_000_000_000_000n, frameBytesMax: 1_179_648, storeQueryLimitMax: 1000, relayId: "", features: 1 };
    expect(toHex(encodeFrame(welcome))).toBe("01800801121a" + Buffer.from(DEFAULT_PUBSUB_TOPIC).toString("hex") + "1880c0a5c7d0fa89bd18" + "20808048" + "28e807" + "3801");
    expect(toHex(encodeFrame({ type: "hello", features: 1 }))).toBe("01060801");
    const hash = bytes(32, 0x8f);
    const ack = { requestId: 7, hash, duplicate: false, storedAtNs: 1_763_766_000_000_000_000n };
    const body = toHex(encodeFrame({ type: "publishAck", ...ack }).subarray(2));
    expect(body.length / 2).toBe(46);
    const next = toHex(encodeFrame({ type: "publishAck", ...ack, requestId: 8 }).subarray(2));
    expect(toHex(encodeFrame({ type: "publishAcks", acks: [ack, { ...ack, requestId: 8 }] }))).toBe("0188" + "0a2e" + body + "0a2e" + next);
  });

  it("encode MESSAGE frames exactly like the generic protobuf writer", () => {
    for (const [envelopeBytes, storedAtNs] of [[300, 1_763_766_000_000_000_000n], [0, 0n], [20_000, 1n]] as const) {
      const frame: Frame = { type: "message", topic: "/sds/1/ü/proto", envelope: bytes(envelopeBytes, 7), hash: bytes(32, 9), storedAtNs };
      const writer = new ProtoWriter().raw(Uint8Array.of(1, 0x81)).stringField(1, frame.topic);
      if (envelopeBytes > 0) writer.bytesField(2, frame.envelope);
      writer.bytesField(3, frame.hash);
      if (storedAtNs > 0n) writer.uint64Field(4, storedAtNs);
      expect(toHex(encodeFrame(frame))).toBe(toHex(writer.finish()));
    }
  });

  it("reject other versions, unknown types and short frames", () => {
    expect(() => decodeFrame(hex("0201"))).toThrow(/version 2/);
    expect(() => decodeFrame(hex("0177"))).toThrow(/unknown frame type 0x77/);
    expect(() => decodeFrame(hex("01"))).toThrow(DecodeError);
    expect(() => decodeFrame(new Uint8Array(0))).toThrow(DecodeError);
  });

  it("enforce limits with offsets", () => {
    const many = encodeFrame({ type: "subscribe", topics: Array.from({ length: 65 }, (_, index) => `/a/1/${index}/p`) });
    expect(() => decodeFrame(many)).toThrow(/more than 64 topics/);
    expect(() => decodeFrame(encodeFrame(SAMPLES[0] as Frame), { frameBytesMax: 10 })).toThrow(/exceeds 10/);
    const longTopic = encodeFrame({ type: "subscribe", topics: ["x".repeat(2000)] });
    try {
      decodeFrame(longTopic);
      expect.unreachable();
    } catch (error) {
      expect((error as DecodeError).code).toBe("E_DECODE_LIMIT");
      expect((error as DecodeError).offset).toBe(5);
    }
    const hashes = encodeFrame({ type: "storeQuery", requestId: 1, topic: "/a/1/b/c", hashes: Array.from({ length: 5 }, () => bytes(32, 1)), sinceTimestampNs: 0n, limit: 0, cursor: new Uint8Array(0) });
    expect(() => decodeFrame(hashes, { hashesPerQueryMax: 4 })).toThrow(/more than 4 hashes/);
    // requestId beyond 2^53-1.
    expect(() => decodeFrame(hex("0103" + "08" + "ffffffffffffffff7f"))).toThrow(/exceeds/);
  });

  it("report the absolute offset inside nested store entries", () => {
    // storeResponse with one entry whose inner hash field claims 50 bytes but has 1.
    const frame = hex("0185" + "1203" + "0a3201");
    try {
      decodeFrame(frame);
      expect.unreachable();
    } catch (error) {
      expect((error as DecodeError).code).toBe("E_DECODE_TRUNCATED");
      expect((error as DecodeError).offset).toBe(5);
    }
  });

  it("encode integers up to 2^53−1 (numbers) and 2^64−1 (bigints) like the generic protobuf writer", () => {
    const seed = testSeed("protocol varints");
    const safe = fc.oneof(fc.constantFrom(0, 1, 127, 128, 2 ** 31, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER), fc.nat(), fc.maxSafeNat());
    const big = fc.oneof(fc.constantFrom(0n, 1n, 2n ** 32n, 2n ** 63n, 2n ** 64n - 1n), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));
    fc.assert(
      fc.property(safe, big, fc.boolean(), fc.string(), (requestId, storedAtNs, duplicate, reason) => {
        const hash = bytes(32, 4);
        const ack = new ProtoWriter().raw(Uint8Array.of(1, 0x82));
        if (requestId !== 0) ack.uint64Field(1, requestId);
        ack.bytesField(2, hash);
        if (duplicate) ack.uint64Field(3, 1);
        if (storedAtNs !== 0n) ack.uint64Field(4, storedAtNs);
        expect(toHex(encodeFrame({ type: "publishAck", requestId, hash, duplicate, storedAtNs }))).toBe(toHex(ack.finish()));
        const reject = new ProtoWriter().raw(Uint8Array.of(1, 0x83));
        if (requestId !== 0) reject.uint64Field(1, requestId);
        reject.stringField(2, "E_X");
        if (reason.length > 0) reject.stringField(3, reason);
        expect(toHex(encodeFrame({ type: "publishReject", requestId, code: "E_X", reason }))).toBe(toHex(reject.finish()));
      }),
      { seed, numRuns: 500 },
    );
    expect(() => encodeFrame({ type: "ping", nonce: -1 })).toThrow(RangeError);
    expect(() => encodeFrame({ type: "ping", nonce: 2 ** 53 })).toThrow(RangeError);
    expect(() => encodeFrame({ type: "message", topic: "/a/1/b/c", envelope: bytes(1, 1), hash: bytes(32, 1), storedAtNs: 2n ** 64n })).toThrow(RangeError);
  });

  it("skip unknown fields (forward compatibility)", () => {
    expect(decodeFrame(hex("0104" + "0805" + "f80701" + "2a0100"))).toEqual({ type: "ping", nonce: 5 });
  });

  it("never throw anything but DecodeError on random or mutated input (fuzz)", () => {
    const seed = testSeed("protocol fuzz");
    const encoded = SAMPLES.map((frame) => encodeFrame(frame));
    const mutated = fc
      .tuple(fc.constantFrom(...encoded), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat())
      .map(([frame, edits, cut]) => {
        const copy = frame.slice(0, Math.max(2, frame.length - (cut % 4)));
        for (const [position, value] of edits) copy[2 + (position % Math.max(1, copy.length - 2))] = value;
        return copy;
      });
    const random = fc.uint8Array({ maxLength: 200 }).map((body) => Uint8Array.of(1, ...body));
    fc.assert(
      fc.property(fc.oneof(mutated, random), (input) => {
        try {
          const frame = decodeFrame(input);
          expect(decodeFrame(encodeFrame(frame))).toEqual(frame);
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError);
        }
      }),
      { seed, numRuns: 2000 },
    );
  });
});
