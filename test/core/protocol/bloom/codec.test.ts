import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { BloomFilter, DEFAULT_BLOOM_LIMITS } from "../../../../src/core/protocol/bloom/index.js";
import { ProtoWriter } from "../../../../src/core/protocol/wire/proto.js";
import { DecodeError } from "../../../../src/core/errors.js";

const seed = Number(process.env.SDS_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`codec.test.ts seed ${seed} (set SDS_SEED to replay)`);

interface Fields { words?: Uint8Array; capacity?: bigint; errorRate?: bigint; kHashes?: bigint; mBits?: bigint }

function nimBlob(fields: Fields): Uint8Array {
  const writer = new ProtoWriter();
  if (fields.words !== undefined) writer.bytesField(1, fields.words);
  if (fields.capacity !== undefined) writer.uint64Field(2, fields.capacity);
  if (fields.errorRate !== undefined) writer.uint64Field(3, fields.errorRate);
  if (fields.kHashes !== undefined) writer.uint64Field(4, fields.kHashes);
  if (fields.mBits !== undefined) writer.uint64Field(5, fields.mBits);
  return writer.finish();
}

const valid: Fields = { words: new Uint8Array(16), capacity: 10n, errorRate: 10000n, kHashes: 7n, mBits: 100n };

function decodeError(bytes: Uint8Array): DecodeError {
  try {
    BloomFilter.fromBytes(bytes, { dialect: "nim", baseOffset: 100 });
  } catch (error) {
    expect(error).toBeInstanceOf(DecodeError);
    return error as DecodeError;
  }
  throw new Error("expected a DecodeError");
}

describe("nim bloom decoding rejects hostile parameters", () => {
  it("accepts the valid baseline", () => {
    expect(BloomFilter.fromBytes(nimBlob(valid), { dialect: "nim" }).params).toEqual({ capacity: 10, errorRate: 0.01, kHashes: 7, mBits: 100, hashFamily: "farmhash64" });
  });
  it.each([
    ["k = 0", { kHashes: 0n }, "kHashes"],
    ["k = 33", { kHashes: 33n }, "kHashes"],
    ["k = 2^64-1", { kHashes: (1n << 64n) - 1n }, "kHashes"],
    ["mBits = 0", { mBits: 0n, words: new Uint8Array(8) }, "mBits"],
    ["mBits above the limit", { mBits: BigInt(DEFAULT_BLOOM_LIMITS.mBitsMax + 1) }, "mBits"],
    ["mBits = 2^63", { mBits: 1n << 63n }, "mBits"],
    ["capacity = 0", { capacity: 0n }, "capacity"],
    ["capacity huge", { capacity: 1n << 40n }, "capacity"],
    ["errorRate = 1.0", { errorRate: 1_000_000n }, "errorRate"],
    ["words shorter than mBits needs", { words: new Uint8Array(8) }, "words"],
    ["words longer than mBits needs", { words: new Uint8Array(24) }, "words"],
    ["words not a multiple of 8", { words: new Uint8Array(17) }, "words"],
  ] as const)("%s", (_name, override, field) => {
    const error = decodeError(nimBlob({ ...valid, ...override }));
    expect(error.code).toBe("E_BLOOM_PARAMS");
    expect(error.field).toBe(`bloomFilter.${field}`);
    expect(error.offset).toBeGreaterThanOrEqual(100);
  });
  it.each(["words", "capacity", "errorRate", "kHashes", "mBits"] as const)("missing %s", (name) => {
    const error = decodeError(nimBlob({ ...valid, [name]: undefined }));
    expect(error.code).toBe("E_DECODE_MISSING_FIELD");
    expect(error.field).toBe(`bloomFilter.${name}`);
  });
  it("wrong wire type, truncation, empty input", () => {
    expect(decodeError(Uint8Array.from([0x08, 0x01])).code).toBe("E_DECODE_WIRE_TYPE");
    expect(decodeError(Uint8Array.from([0x0a, 0x10, 0x00])).code).toBe("E_DECODE_TRUNCATED");
    expect(decodeError(new Uint8Array(0)).code).toBe("E_DECODE_MISSING_FIELD");
  });
  it("skips unknown fields and keeps the last value of a repeated one", () => {
    const blob = nimBlob({ ...valid, kHashes: 3n });
    const extended = new Uint8Array([...blob, 0x30, 0x05, 0x20, 0x07, 0x3a, 0x01, 0xff]);
    expect(BloomFilter.fromBytes(extended, { dialect: "nim" }).params.kHashes).toBe(7);
  });
  it("never throws anything but DecodeError on random or mutated input (fast-check)", () => {
    const base = new BloomFilter({ capacity: 20, errorRate: 0.01, dialect: "nim" });
    base.add("a");
    const baseline = base.toBytes("nim");
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 64 }),
          fc.tuple(fc.integer({ min: 0, max: baseline.length - 1 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: baseline.length })).map(([at, value, cut]) => {
            const copy = baseline.slice(0, Math.max(cut, at + 1));
            copy[at] = value;
            return copy;
          }),
        ),
        (bytes) => {
          try {
            const filter = BloomFilter.fromBytes(bytes, { dialect: "nim" });
            expect(filter.params.kHashes).toBeGreaterThanOrEqual(1);
            filter.has("a");
          } catch (error) {
            expect(error).toBeInstanceOf(DecodeError);
          }
        },
      ),
      { numRuns: 5000, seed },
    );
  });
});
