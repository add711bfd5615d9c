import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { sha3_256 } from "@noble/hashes/sha3.js";
import { DecodeError, SdsError } from "../../../src/core/errors.js";
import {
  SEGMENT_BYTES_MAX_DEFAULT,
  chunkBytesFor,
  decodeSegment,
  encodeSegment,
  payloadHash,
  segmentPayload,
  type Segment,
} from "../../../src/core/channel/segmentation.js";

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
const fromHex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text.replace(/\s+/g, ""), "hex"));
const goldenHash = Uint8Array.from({ length: 32 }, (_, index) => index);
const goldenHashHex = hex(goldenHash);

function catchDecode(run: () => unknown): DecodeError {
  try {
    run();
  } catch (error) {
    if (error instanceof DecodeError) return error;
    throw error;
  }
  throw new Error("expected a DecodeError");
}

// Golden vectors of nim-segmentation tests/test_wire_vectors.nim (research/reliable-channel.md §2.2 (C)).
const golden: Array<{ name: string; segment: Segment; wire: string }> = [
  {
    name: "data segment",
    segment: { originalPayloadHash: goldenHash, originalPayloadLength: 500, index: 1, dataSegmentCount: 3, isParity: false, segmentPayload: fromHex("aabbcc") },
    wire: `0a20${goldenHashHex}10f403 1801 2003 3a03aabbcc`,
  },
  {
    name: "parity segment",
    segment: { originalPayloadHash: goldenHash, originalPayloadLength: 500, index: 0, dataSegmentCount: 3, paritySegmentCount: 1, isParity: true, segmentPayload: fromHex("1122") },
    wire: `0a20${goldenHashHex}10f403 2003 2801 3001 3a021122`,
  },
  {
    name: "minimal segment",
    segment: { originalPayloadHash: goldenHash, originalPayloadLength: 0, index: 0, dataSegmentCount: 1, isParity: false, segmentPayload: new Uint8Array() },
    wire: `0a20${goldenHashHex}2001`,
  },
];

describe("segment golden vectors (nim-segmentation layout)", () => {
  for (const vector of golden) {
    it(`encodes and decodes the ${vector.name} byte-exactly`, () => {
      expect(hex(encodeSegment(vector.segment))).toBe(vector.wire.replace(/\s+/g, ""));
      const decoded = decodeSegment(fromHex(vector.wire));
      expect({ ...decoded, originalPayloadHash: hex(decoded.originalPayloadHash), segmentPayload: hex(decoded.segmentPayload) }).toEqual({
        ...vector.segment,
        originalPayloadHash: goldenHashHex,
        segmentPayload: hex(vector.segment.segmentPayload),
      });
    });
  }

  it("flags parity segments on decode", () => {
    expect(decodeSegment(fromHex(golden[1]!.wire)).isParity).toBe(true);
    expect(decodeSegment(fromHex(golden[0]!.wire)).isParity).toBe(false);
  });

  it("hashes with Keccak-256 (Ethereum padding), not SHA3-256", () => {
    const empty = new Uint8Array();
    expect(hex(payloadHash(empty))).toBe("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
    expect(hex(payloadHash(empty))).not.toBe(hex(sha3_256(empty)));
  });
});

describe("segmentPayload", () => {
  it("uses 64-aligned chunks of segmentBytesMax − 128 (102 272 by default)", () => {
    expect(chunkBytesFor(SEGMENT_BYTES_MAX_DEFAULT)).toBe(102_272);
    expect(chunkBytesFor(192)).toBe(64);
    expect(chunkBytesFor(300)).toBe(128);
    expect(() => chunkBytesFor(191)).toThrow(SdsError);
  });

  it("splits the PR #4214 demo payload (306 817 B) into 4 segments", () => {
    const payload = new Uint8Array(306_817).map((_, index) => index % 251);
    const blobs = segmentPayload(payload);
    expect(blobs).toHaveLength(4);
    const segments = blobs.map((blob) => decodeSegment(blob));
    expect(segments.map((segment) => segment.segmentPayload.length)).toEqual([102_272, 102_272, 102_272, 306_817 - 3 * 102_272]);
    for (const [index, segment] of segments.entries()) {
      expect(segment.index).toBe(index);
      expect(segment.dataSegmentCount).toBe(4);
      expect(segment.paritySegmentCount).toBeUndefined();
      expect(hex(segment.originalPayloadHash)).toBe(hex(keccak_256(payload)));
    }
    for (const blob of blobs) expect(blob.length).toBeLessThanOrEqual(SEGMENT_BYTES_MAX_DEFAULT);
  });

  it("wraps an empty payload in one minimal segment", () => {
    const blobs = segmentPayload(new Uint8Array());
    expect(blobs).toHaveLength(1);
    expect(hex(blobs[0]!)).toBe(`0a20${hex(keccak_256(new Uint8Array()))}2001`);
  });

  it("refuses payloads needing more than totalSegmentCountMax segments", () => {
    const error = (() => {
      try {
        segmentPayload(new Uint8Array(64 * 4 + 1), { segmentBytesMax: 192, totalSegmentCountMax: 4 });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(SdsError);
    expect((error as SdsError).code).toBe("E_PAYLOAD_TOO_LARGE");
    expect(segmentPayload(new Uint8Array(64 * 4), { segmentBytesMax: 192, totalSegmentCountMax: 4 })).toHaveLength(4);
  });

  it("concatenating decoded chunks in index order gives the payload back (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.integer({ min: 192, max: 1200 }), (payload, segmentBytesMax) => {
        const blobs = segmentPayload(payload, { segmentBytesMax, totalSegmentCountMax: 10_000 });
        const segments = blobs.map((blob) => decodeSegment(blob, { segmentBytesMax, totalSegmentCountMax: 10_000 }));
        expect(blobs.every((blob) => blob.length <= segmentBytesMax)).toBe(true);
        expect(Buffer.concat(segments.map((segment) => segment.segmentPayload))).toEqual(Buffer.from(payload));
        expect(segments.every((segment) => segment.originalPayloadLength === payload.length)).toBe(true);
      }),
    );
  });
});

describe("decodeSegment rejects bad input with typed errors and offsets", () => {
  const base = golden[0]!.segment;
  it("wrong hash length", () => {
    const error = catchDecode(() => decodeSegment(fromHex("0a03aabbcc2001")));
    expect(error.code).toBe("E_SEGMENT_INVALID");
    expect(error.field).toBe("originalPayloadHash");
    expect(error.offset).toBe(0);
  });

  it("missing data count, index out of range, parity index without parity count", () => {
    expect(catchDecode(() => decodeSegment(fromHex(`0a20${goldenHashHex}`))).field).toBe("dataSegmentCount");
    const outOfRange = catchDecode(() => decodeSegment(encodeSegment({ ...base, index: 3 })));
    expect(outOfRange.code).toBe("E_SEGMENT_INVALID");
    expect(outOfRange.field).toBe("index");
    expect(outOfRange.offset).toBe(37);
    expect(catchDecode(() => decodeSegment(encodeSegment({ ...base, isParity: true, index: 0 }))).field).toBe("index");
  });

  it("too many segments and oversized payloads against the limits", () => {
    expect(catchDecode(() => decodeSegment(encodeSegment({ ...base, dataSegmentCount: 300 }))).field).toBe("dataSegmentCount");
    expect(catchDecode(() => decodeSegment(encodeSegment({ ...base, dataSegmentCount: 4, paritySegmentCount: 2 }), { totalSegmentCountMax: 5 })).code).toBe("E_SEGMENT_INVALID");
    const oversized = catchDecode(() => decodeSegment(encodeSegment(base), { segmentBytesMax: 2 }));
    expect(oversized.field).toBe("segmentPayload");
    expect(oversized.offset).toBe(41);
  });

  it("uint32 overflow, wrong wire types and truncation", () => {
    expect(catchDecode(() => decodeSegment(fromHex(`0a20${goldenHashHex}1080808080102001`))).field).toBe("originalPayloadLength");
    expect(catchDecode(() => decodeSegment(fromHex(`0a20${goldenHashHex}2201002001`))).code).toBe("E_DECODE_WIRE_TYPE");
    expect(catchDecode(() => decodeSegment(fromHex(`0a20${goldenHashHex.slice(0, 20)}`))).code).toBe("E_DECODE_TRUNCATED");
  });

  it("skips unknown fields", () => {
    const withUnknown = fromHex(`${golden[2]!.wire}4a0201027801`);
    expect(decodeSegment(withUnknown).dataSegmentCount).toBe(1);
  });

  it("never throws anything but a DecodeError on random or mutated bytes", () => {
    const valid = golden.map((vector) => fromHex(vector.wire));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 80 }),
          fc.tuple(fc.constantFrom(...valid), fc.nat(), fc.integer({ min: 0, max: 255 })).map(([blob, at, byte]) => {
            const copy = blob.slice();
            copy[at % copy.length] = byte;
            return copy;
          }),
        ),
        (bytes) => {
          try {
            decodeSegment(bytes);
          } catch (error) {
            expect(error).toBeInstanceOf(DecodeError);
          }
        },
      ),
      { numRuns: 5000 },
    );
  });
});
