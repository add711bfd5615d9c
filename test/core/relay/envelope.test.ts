import { createHash } from "node:crypto";
import { proto_message } from "@waku/proto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DecodeError, SdsError } from "../../../src/core/errors.js";
import {
  DEFAULT_PUBSUB_TOPIC,
  RELIABLE_CHANNEL_META,
  RELIABLE_CHANNEL_META_BYTES,
  contentTopicFor,
  decodeEnvelope,
  encodeEnvelope,
  hasAcceptableMeta,
  messageHash,
  toHex,
  type WakuEnvelope,
  zigzagDecode64,
  zigzagEncode64,
} from "../../../src/core/relay/envelope.js";

const hex = (value: string) => new Uint8Array(Buffer.from(value.replace(/\s+/g, ""), "hex"));
const ascii = (value: string) => new Uint8Array(Buffer.from(value, "utf8"));

// payload 010203, topic /sds/1/demo/proto, timestamp 1.7e18 ns, meta RELIABLE-CHANNEL-API/1.
const GOLDEN: WakuEnvelope = { payload: hex("010203"), contentTopic: "/sds/1/demo/proto", timestampNs: 1_700_000_000_000_000_000n, meta: ascii(RELIABLE_CHANNEL_META) };
const GOLDEN_HEX =
  "0a03010203" + // field 1 payload, length 3
  "1211" + Buffer.from("/sds/1/demo/proto").toString("hex") + // field 2, length 17
  "50" + "8080d0e2c6bfce972f" + // field 10 sint64: zigzag(1.7e18) = 3.4e18 as varint
  "5a16" + Buffer.from("RELIABLE-CHANNEL-API/1").toString("hex"); // field 11, length 22

describe("envelope codec", () => {
  it("encodes the golden envelope byte for byte, and @waku/proto agrees", () => {
    expect(toHex(encodeEnvelope(GOLDEN))).toBe(GOLDEN_HEX);
    const reference = proto_message.WakuMessage.encode({ payload: GOLDEN.payload, contentTopic: GOLDEN.contentTopic, timestamp: GOLDEN.timestampNs, meta: GOLDEN.meta, version: undefined, rateLimitProof: undefined, ephemeral: undefined });
    expect(toHex(reference)).toBe(GOLDEN_HEX);
  });

  it("decodes the golden bytes", () => {
    expect(decodeEnvelope(hex(GOLDEN_HEX))).toEqual(GOLDEN);
  });

  it("keeps proto3 presence: empty payload/topic omitted, version 0 and ephemeral false written", () => {
    expect(toHex(encodeEnvelope({ payload: new Uint8Array(0), contentTopic: "" }))).toBe("");
    expect(toHex(encodeEnvelope({ payload: new Uint8Array(0), contentTopic: "", version: 0, ephemeral: false }))).toBe("1800f80100");
    expect(decodeEnvelope(hex("1800f80100"))).toEqual({ payload: new Uint8Array(0), contentTopic: "", version: 0, ephemeral: false });
  });

  it("round-trips arbitrary envelopes and matches @waku/proto both ways", () => {
    const envelopes = fc.record(
      {
        payload: fc.uint8Array({ maxLength: 64 }),
        contentTopic: fc.constantFrom("", "/sds/1/a/proto", "/app/2/ünï/json"),
        version: fc.integer({ min: 0, max: 0xffff_ffff }),
        timestampNs: fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
        meta: fc.uint8Array({ maxLength: 64 }),
        ephemeral: fc.boolean(),
      },
      { requiredKeys: ["payload", "contentTopic"] },
    );
    fc.assert(
      fc.property(envelopes, (envelope) => {
        const bytes = encodeEnvelope(envelope);
        expect(decodeEnvelope(bytes)).toEqual(envelope);
        const reference = proto_message.WakuMessage.decode(bytes);
        expect(reference.timestamp).toBe(envelope.timestampNs);
        expect(reference.ephemeral).toBe(envelope.ephemeral);
        // protons-runtime (under @waku/proto) mis-encodes some negative sint64 values
        // (e.g. -2^53 and -2^62 re-encode to other numbers), so byte equality is only
        // compared for the timestamps real peers send: non-negative ones.
        if ((envelope.timestampNs ?? 0n) >= 0n) expect(toHex(proto_message.WakuMessage.encode(reference))).toBe(toHex(bytes));
      }),
    );
  });

  it("documents the protons sint64 quirk: -2^53 re-encodes wrongly there, correctly here", () => {
    const envelope = { payload: new Uint8Array(0), contentTopic: "", timestampNs: -(1n << 53n) };
    expect(toHex(encodeEnvelope(envelope))).toBe("50ffffffffffffff1f");
    expect(decodeEnvelope(encodeEnvelope(envelope)).timestampNs).toBe(-(1n << 53n));
  });

  it("zigzag maps the int64 extremes", () => {
    expect(zigzagEncode64(-1n)).toBe(1n);
    expect(zigzagEncode64(1n)).toBe(2n);
    expect(zigzagEncode64((1n << 63n) - 1n)).toBe((1n << 64n) - 2n);
    expect(zigzagEncode64(-(1n << 63n))).toBe((1n << 64n) - 1n);
    for (const value of [0n, -5n, 123456789012345n, -(1n << 63n)]) expect(zigzagDecode64(zigzagEncode64(value))).toBe(value);
  });

  it("skips unknown fields including rate_limit_proof", () => {
    // field 21 (rate_limit_proof) length 2, then field 5 fixed32, then payload.
    const bytes = hex("aa01020000" + "2d01020304" + "0a0109");
    expect(decodeEnvelope(bytes)).toEqual({ payload: hex("09"), contentTopic: "" });
  });

  it("reports truncation, wrong wire types, bad UTF-8 and limits with offsets", () => {
    const cases: Array<[string, string, string, number]> = [
      ["0a05010203", "E_DECODE_TRUNCATED", "payload", 1],
      ["1001", "E_DECODE_WIRE_TYPE", "contentTopic", 0],
      ["0a0101" + "1202c328", "E_DECODE_UTF8", "contentTopic", 5],
      ["5a41" + "00".repeat(65), "E_DECODE_LIMIT", "meta", 2],
      ["18ffffffff1f", "E_DECODE_VARINT", "version", 1],
    ];
    for (const [input, code, field, offset] of cases) {
      const error = (() => {
        try {
          decodeEnvelope(hex(input));
        } catch (caught) {
          return caught;
        }
        return undefined;
      })();
      expect(error, input).toBeInstanceOf(DecodeError);
      expect((error as DecodeError).code, input).toBe(code);
      expect((error as DecodeError).field, input).toBe(field);
      expect((error as DecodeError).offset, input).toBe(offset);
    }
    expect(() => decodeEnvelope(new Uint8Array(100), { envelopeBytesMax: 99 })).toThrow(/exceeds 99/);
  });
});

describe("message hash", () => {
  it("is sha256 over pubsub topic, payload, content topic, meta and the 8-byte BE timestamp", () => {
    const timestamp = Buffer.alloc(8);
    timestamp.writeBigUInt64BE(1_700_000_000_000_000_000n);
    const byHand = createHash("sha256")
      .update(Buffer.from(DEFAULT_PUBSUB_TOPIC, "utf8"))
      .update(Buffer.from("010203", "hex"))
      .update(Buffer.from("/sds/1/demo/proto", "utf8"))
      .update(Buffer.from(RELIABLE_CHANNEL_META, "utf8"))
      .update(timestamp)
      .digest("hex");
    expect(toHex(messageHash(DEFAULT_PUBSUB_TOPIC, GOLDEN))).toBe(byHand);
  });

  it("leaves absent meta and timestamp out, and ignores version and ephemeral", () => {
    const bare: WakuEnvelope = { payload: hex("ff"), contentTopic: "/a/1/b/c" };
    const byHand = createHash("sha256").update("/waku/2/rs/1/0").update(Buffer.from("ff", "hex")).update("/a/1/b/c").digest("hex");
    expect(toHex(messageHash("/waku/2/rs/1/0", bare))).toBe(byHand);
    expect(toHex(messageHash("/waku/2/rs/1/0", { ...bare, version: 2, ephemeral: true }))).toBe(byHand);
    expect(toHex(messageHash("/waku/2/rs/1/1", bare))).not.toBe(byHand);
  });

  it("hashes a negative timestamp as its two's complement", () => {
    const timestamp = Buffer.alloc(8);
    timestamp.writeBigInt64BE(-2n);
    const byHand = createHash("sha256").update("p").update("/a/1/b/c").update(timestamp).digest("hex");
    expect(toHex(messageHash("p", { payload: new Uint8Array(0), contentTopic: "/a/1/b/c", timestampNs: -2n }))).toBe(byHand);
  });
});

describe("content topics and meta", () => {
  it("builds /sds/1/<name>/proto and refuses names that would break the shape", () => {
    expect(contentTopicFor("demo")).toBe("/sds/1/demo/proto");
    expect(contentTopicFor("a.b_c~d-1")).toBe("/sds/1/a.b_c~d-1/proto");
    for (const bad of ["", "a/b", "sp ace", "x".repeat(129), "ü"]) {
      expect(() => contentTopicFor(bad), bad).toThrow(SdsError);
    }
  });

  it("accepts no meta or the exact marker, nothing else", () => {
    const base = { payload: new Uint8Array(0), contentTopic: "/a/1/b/c" };
    expect(hasAcceptableMeta(base)).toBe(true);
    expect(hasAcceptableMeta({ ...base, meta: RELIABLE_CHANNEL_META_BYTES })).toBe(true);
    expect(hasAcceptableMeta({ ...base, meta: ascii("RELIABLE-CHANNEL-API/2") })).toBe(false);
    expect(hasAcceptableMeta({ ...base, meta: ascii("LIP173") })).toBe(false);
  });
});
