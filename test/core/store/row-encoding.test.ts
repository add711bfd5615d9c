/**
 * The hand-written hot paths of a group commit against the generic codecs they replace:
 * the exactly sized outgoing row body (framed in place), and the walk that finds the bloom
 * filter inside published bytes. Same bytes and same answers, for arbitrary inputs.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeMessage } from "../../../src/core/protocol/wire/index.js";
import { ProtoReader, ProtoWriter } from "../../../src/core/protocol/wire/proto.js";
import { BLOOM_ROW_MIN_BYTES, wireBloomRange } from "../../../src/core/store/bloom-rows.js";
import type { UnacknowledgedMessage } from "../../../src/core/store/contract.js";
import { CATEGORY, FRAME_HEADER_BYTES, frameInPlace, frameRow, messageKey, unframeRow } from "../../../src/core/store/rows.js";
import { encodeUnacknowledgedAfter, type UnacknowledgedRowOptions } from "../../../src/core/store/snapshot-entries.js";
import { EXT, encodeNimMessage, messageAbsenceFlags } from "../../../src/core/store/snapshot-fields.js";
import { arbitraryMessage, arbitraryUnacknowledged } from "./fixtures.js";

const seed = Number(process.env.SDS_SEED ?? Date.now() % 1_000_000);
console.log(`row encoding seed=${seed} (set SDS_SEED to replay)`);

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

/** The reader-based walk the store used before (the reference). */
function referenceRange(wire: Uint8Array): { at: number; length: number } | undefined {
  try {
    const reader = new ProtoReader(wire);
    while (!reader.eof()) {
      const tag = reader.readTag("wire");
      if ((tag.field === 12 || tag.field === 6) && tag.wireType === 2) {
        const bytes = reader.readLengthDelimited("wire.bloom");
        if (bytes.length >= BLOOM_ROW_MIN_BYTES) return { at: bytes.byteOffset - wire.byteOffset, length: bytes.length };
      } else reader.skip(tag.wireType, "wire");
    }
  } catch {
    // unwalkable
  }
  return undefined;
}

/** The growing-writer encoding of an outgoing row body the store used before (the reference). */
function referenceBody(entry: UnacknowledgedMessage, options: UnacknowledgedRowOptions): Uint8Array {
  const writer = new ProtoWriter();
  if (options.messageInLog === true) writer.uint64Field(EXT + 20, 1);
  else writer.bytesField(1, encodeNimMessage(entry.message));
  writer.uint64Field(2, entry.sendTimeMs).uint64Field(3, entry.resendAttempts);
  const presence = messageAbsenceFlags(entry.message);
  if (presence !== 0) writer.uint64Field(EXT + 10, presence);
  if (entry.possibleAckCount != null) writer.uint64Field(EXT, entry.possibleAckCount);
  const wire = entry.wire as Uint8Array;
  if (options.wireBloomDiff !== undefined) {
    const { at, length, diff } = options.wireBloomDiff;
    writer.bytesField(EXT + 21, wire.subarray(0, at)).bytesField(EXT + 22, wire.subarray(at + length)).bytesField(EXT + 24, diff);
  } else if (options.wireBloom !== undefined) {
    const { at, length } = options.wireBloom;
    writer.bytesField(EXT + 21, wire.subarray(0, at)).bytesField(EXT + 22, wire.subarray(at + length)).uint64Field(EXT + 23, 1);
  } else writer.bytesField(EXT + 1, wire);
  return writer.finish();
}

describe("published filter range", () => {
  it("finds the filter where the reader-based walk does, in both dialects, whole or cut short (property)", () => {
    fc.assert(
      fc.property(arbitraryMessage(), fc.integer({ min: 0, max: 2000 }), fc.constantFrom("spec" as const, "nim" as const), fc.nat(), (message, bloomBytes, dialect, cut) => {
        const wire = encodeMessage({ ...message, bloomFilter: new Uint8Array(bloomBytes).fill(7) }, { dialect });
        expect(wireBloomRange(wire)).toEqual(referenceRange(wire));
        const short = wire.subarray(0, cut % (wire.length + 1));
        expect(wireBloomRange(short)).toEqual(referenceRange(short));
      }),
      { seed, numRuns: 200 },
    );
  });

  it("agrees with the reference on arbitrary bytes (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1200 }), (bytes) => {
        expect(wireBloomRange(bytes)).toEqual(referenceRange(bytes));
      }),
      { seed: seed + 1, numRuns: 500 },
    );
  });
});

describe("outgoing row body", () => {
  it("writes the reference bytes after the reserved frame header, and frames in place as frameRow does (property)", () => {
    const options = fc.oneof(
      fc.constant<UnacknowledgedRowOptions>({}),
      fc.constant<UnacknowledgedRowOptions>({ messageInLog: true }),
      fc.record({ messageInLog: fc.boolean(), cut: fc.nat(), diff: fc.uint8Array({ maxLength: 40 }), inline: fc.boolean() }),
    );
    fc.assert(
      fc.property(arbitraryUnacknowledged(), options, fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (entry, picked, sequence) => {
        let rowOptions: UnacknowledgedRowOptions = picked as UnacknowledgedRowOptions;
        const wire = entry.wire ?? new Uint8Array(5);
        const withWire = { ...entry, wire };
        if ("cut" in picked) {
          const at = picked.cut % (wire.length + 1);
          const length = (picked.cut >> 3) % (wire.length - at + 1);
          rowOptions = picked.inline ? { messageInLog: picked.messageInLog, wireBloomDiff: { at, length, diff: picked.diff } } : { messageInLog: picked.messageInLog, wireBloom: { at, length } };
        }
        const reference = referenceBody(withWire, rowOptions);
        expect(hex(encodeUnacknowledgedAfter(withWire, rowOptions, 0))).toBe(hex(reference));
        const rowKey = messageKey("channel", entry.message.messageId);
        const framed = frameInPlace(CATEGORY.outgoing, rowKey, sequence, encodeUnacknowledgedAfter(withWire, rowOptions, FRAME_HEADER_BYTES));
        expect(hex(framed)).toBe(hex(frameRow(CATEGORY.outgoing, rowKey, sequence, reference)));
        const opened = unframeRow(CATEGORY.outgoing, rowKey, framed);
        expect(opened.ok && opened.sequence === sequence).toBe(true);
      }),
      { seed: seed + 2, numRuns: 300 },
    );
  });

  it("refuses a value no varint carries, as the generic writer does", () => {
    const entry: UnacknowledgedMessage = { message: { senderId: "a", messageId: "m", channelId: "c", lamportTimestamp: 1n, causalHistory: [], content: new Uint8Array(1), repairRequest: [] }, sendTimeMs: -1, resendAttempts: 0 };
    expect(() => encodeUnacknowledgedAfter(entry, {}, 0)).toThrow(RangeError);
    expect(() => encodeUnacknowledgedAfter({ ...entry, sendTimeMs: 0.5 }, {}, 0)).toThrow(RangeError);
  });
});
