import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareKeys, decodeStringKey, key, keyPart, prefixRange, toKey } from "../../../src/core/store/keys.js";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

describe("key codec: the hand-computed vectors of reliable-channel.md §6.4", () => {
  it("encodes key(\"channel-42\", 1'i64)", () => {
    expect(hex(key(keyPart.string("channel-42"), keyPart.int64(1n)))).toBe("000a6368616e6e656c2d3432" + "8000000000000001");
  });
  it("sign-flips negative and zero int64", () => {
    expect(hex(key(keyPart.string("c"), keyPart.int64(-1n)))).toBe("000163" + "7fffffffffffffff");
    expect(hex(key(keyPart.string("c"), keyPart.int64(0)))).toBe("000163" + "8000000000000000");
  });
  it("writes uint64 plain big-endian", () => {
    expect(hex(key(keyPart.string("u"), keyPart.uint64(256n)))).toBe("000175" + "0000000000000100");
  });
  it("encodes an enum ordinal as a sign-flipped int64", () => {
    expect(hex(keyPart.enumOrdinal(2))).toBe("8000000000000002");
  });
  it("computes prefixRange(key(\"a\")) = [000161, 000162)", () => {
    const range = prefixRange(toKey("a"));
    expect(hex(range.start)).toBe("000161");
    expect(hex(range.stop as Uint8Array)).toBe("000162");
  });
  it("builds the sds.log key of channel c1, message ab", () => {
    expect(hex(key(keyPart.string("c1"), keyPart.string("ab")))).toBe("00026331" + "00026162");
  });
  it("has no upper bound for an all-0xFF prefix and carries over trailing 0xFF", () => {
    expect(prefixRange(Uint8Array.of(0xff, 0xff)).stop).toBeUndefined();
    expect(hex(prefixRange(Uint8Array.of(0x01, 0xff)).stop as Uint8Array)).toBe("02");
  });
  it("encodes bytes, byte and bool", () => {
    expect(hex(keyPart.bytes(Uint8Array.of(1, 2)))).toBe("00020102");
    expect(hex(keyPart.byte(7))).toBe("07");
    expect(hex(keyPart.bool(true))).toBe("01");
  });
  it("refuses over-long strings with a typed error and out-of-range numbers as bugs", () => {
    expect(() => keyPart.string("x".repeat(65_536))).toThrow(/key part limit/);
    expect(() => keyPart.int64(1n << 63n)).toThrow(RangeError);
    expect(() => keyPart.uint64(-1)).toThrow(RangeError);
  });
});

describe("key codec: order", () => {
  it("sorts strings by length first, as documented", () => {
    const sorted = ["ab", "", "b", "aa", "a"].map(toKey).sort(compareKeys).map((k) => decodeStringKey(k)?.[0]);
    expect(sorted).toEqual(["", "a", "b", "aa", "ab"]);
  });
  it("sorts a shorter composite before a longer one sharing its prefix", () => {
    expect(compareKeys(key(toKey("a")), key(toKey("a"), keyPart.int64(0)))).toBe(-1);
  });
  it("preserves int64 order (property)", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }), fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }), (a, b) => {
        const order = Math.sign(compareKeys(keyPart.int64(a), keyPart.int64(b)));
        expect(order).toBe(a < b ? -1 : a > b ? 1 : 0);
      }),
    );
  });
  it("keeps prefix scans exact per component (ch1 never covers ch10)", () => {
    const range = prefixRange(toKey("ch1"));
    const under10 = key(toKey("ch10"), toKey("m"));
    const under1 = key(toKey("ch1"), toKey("m"));
    const inRange = (k: Uint8Array) => compareKeys(k, range.start) >= 0 && (range.stop === undefined || compareKeys(k, range.stop) < 0);
    expect(inRange(under1)).toBe(true);
    expect(inRange(under10)).toBe(false);
  });
  it("round-trips string keys and rejects malformed ones", () => {
    fc.assert(
      fc.property(fc.array(fc.string(), { maxLength: 4 }), (parts) => {
        expect(decodeStringKey(key(...parts.map(toKey)))).toEqual(parts);
      }),
    );
    expect(decodeStringKey(Uint8Array.of(0, 5, 1))).toBeUndefined();
  });
});
