import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { DecodeError } from "../../../../src/core/errors.js";
import { ProtoReader, ProtoWriter, WireType, varintLength } from "../../../../src/core/protocol/wire/proto.js";

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
const fromHex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "hex"));

function catchDecode(run: () => unknown): DecodeError {
  try {
    run();
  } catch (error) {
    if (error instanceof DecodeError) return error;
    throw error;
  }
  throw new Error("expected a DecodeError");
}

describe("ProtoWriter", () => {
  it("writes varints, tags and fields in protobuf layout", () => {
    expect(hex(new ProtoWriter().varint(0).finish())).toBe("00");
    expect(hex(new ProtoWriter().varint(300).finish())).toBe("ac02");
    expect(hex(new ProtoWriter().uint64Field(10, 1700000000000n).finish())).toBe("5080d095ffbc31");
    expect(hex(new ProtoWriter().stringField(1, "alice").finish())).toBe("0a05616c696365");
    expect(hex(new ProtoWriter().bytesField(20, new Uint8Array()).finish())).toBe("a20100");
    expect(hex(new ProtoWriter().varint((1n << 64n) - 1n).finish())).toBe("ffffffffffffffffff01");
  });

  it("refuses values that are caller bugs", () => {
    expect(() => new ProtoWriter().varint(-1)).toThrow(RangeError);
    expect(() => new ProtoWriter().varint(1n << 64n)).toThrow(RangeError);
    expect(() => new ProtoWriter().tag(0, 0)).toThrow(RangeError);
  });

  it("round-trips any uint64 through the reader", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (value) => {
        const bytes = new ProtoWriter().varint(value).finish();
        expect(bytes.length).toBe(varintLength(value));
        const reader = new ProtoReader(bytes);
        expect(reader.readVarint()).toBe(value);
        expect(reader.eof()).toBe(true);
      }),
    );
  });
});

describe("ProtoReader", () => {
  it("reads tags and length-delimited values", () => {
    const reader = new ProtoReader(fromHex("0a05616c6963655005"));
    expect(reader.readTag()).toEqual({ field: 1, wireType: WireType.LengthDelimited, offset: 0 });
    expect(new TextDecoder().decode(reader.readLengthDelimited())).toBe("alice");
    expect(reader.readTag()).toEqual({ field: 10, wireType: WireType.Varint, offset: 7 });
    expect(reader.readVarint()).toBe(5n);
    expect(reader.eof()).toBe(true);
  });

  it("reports absolute offsets with baseOffset", () => {
    const error = catchDecode(() => new ProtoReader(fromHex("0a05"), { baseOffset: 100 }).skip(WireType.LengthDelimited, "x"));
    expect(error.code).toBe("E_DECODE_TRUNCATED");
    expect(error.offset).toBe(100);
    const error2 = catchDecode(() => {
      const reader = new ProtoReader(fromHex("0a05616c"), { baseOffset: 10 });
      reader.readTag("senderId");
      reader.readLengthDelimited("senderId");
    });
    expect(error2.field).toBe("senderId");
    expect(error2.offset).toBe(11);
  });

  it("classifies every malformed primitive with a stable code", () => {
    expect(catchDecode(() => new ProtoReader(fromHex("80")).readVarint()).code).toBe("E_DECODE_TRUNCATED");
    expect(catchDecode(() => new ProtoReader(fromHex("ffffffffffffffffffff01")).readVarint()).code).toBe("E_DECODE_VARINT");
    expect(catchDecode(() => new ProtoReader(fromHex("ffffffffffffffffff02")).readVarint()).code).toBe("E_DECODE_VARINT");
    expect(catchDecode(() => new ProtoReader(fromHex("0b")).readTag()).code).toBe("E_DECODE_WIRE_TYPE");
    expect(catchDecode(() => new ProtoReader(fromHex("02")).readTag()).code).toBe("E_DECODE_WIRE_TYPE");
    expect(catchDecode(() => new ProtoReader(fromHex("0d0102")).skip(WireType.Fixed32)).code).toBe("E_DECODE_TRUNCATED");
    expect(catchDecode(() => new ProtoReader(fromHex("ffffffffffffffffff01")).readLengthDelimited()).code).toBe("E_DECODE_TRUNCATED");
  });
});
