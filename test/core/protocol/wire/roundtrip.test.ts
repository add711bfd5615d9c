/**
 * Round-trip properties for both dialects, dialect detection on every encoded message, the
 * decode limits, strict UTF-8, and the nim required-field rules.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DecodeError, SdsError } from "../../../../src/core/errors.js";
import type { SdsMessage } from "../../../../src/core/protocol/types.js";
import { annotateMessage, decodeMessage, decodeMessageWithDialect, detectDialect, encodeMessage } from "../../../../src/core/protocol/wire/index.js";
import { ProtoWriter } from "../../../../src/core/protocol/wire/proto.js";
import { nimMessageArb, nimNormalized, seedFor, specMessageArb } from "./arbitraries.js";

const RUNS = Number(process.env.SDS_ROUNDTRIP_RUNS ?? 1500);

function decodeError(run: () => unknown): DecodeError {
  try {
    run();
  } catch (error) {
    if (error instanceof DecodeError) return error;
    throw error;
  }
  throw new Error("expected a DecodeError");
}

const base: SdsMessage = { senderId: "alice", messageId: "m1", channelId: "c", lamportTimestamp: 7n, causalHistory: [], repairRequest: [], content: new Uint8Array([1]) };

describe("round trips", () => {
  it("spec: decode(encode(m)) == m and detection says spec", () => {
    fc.assert(
      fc.property(specMessageArb, (message) => {
        const bytes = encodeMessage(message, { dialect: "spec" });
        expect(decodeMessage(bytes, { dialect: "spec" })).toEqual(message);
        if (bytes.length > 0) expect(decodeMessageWithDialect(bytes).dialect).toBe("spec");
      }),
      { seed: seedFor("roundtrip-spec"), numRuns: RUNS },
    );
  });

  it("nim: decode(encode(m)) == normalized m, re-encoding is stable, detection says nim", () => {
    fc.assert(
      fc.property(nimMessageArb, (message) => {
        const bytes = encodeMessage(message, { dialect: "nim" });
        const decoded = decodeMessage(bytes, { dialect: "nim" });
        expect(decoded).toEqual(nimNormalized(message));
        expect(encodeMessage(decoded, { dialect: "nim" })).toEqual(bytes);
        const detected = decodeMessageWithDialect(bytes);
        expect(detected.dialect).toBe("nim");
        expect(detected.detection.confidence).toBe("certain");
      }),
      { seed: seedFor("roundtrip-nim"), numRuns: RUNS },
    );
  });

  it("annotation covers every byte of the message in order", () => {
    fc.assert(
      fc.property(specMessageArb, fc.constantFrom("spec" as const, "nim" as const), (message, dialect) => {
        const bytes = encodeMessage({ ...message, lamportTimestamp: message.lamportTimestamp ?? 1n }, { dialect });
        const fields = annotateMessage(bytes, dialect);
        let next = 0;
        for (const field of fields) {
          expect(field.offset).toBe(next);
          expect(field.name).not.toBe("unknown");
          next += field.length;
        }
        expect(next).toBe(bytes.length);
      }),
      { seed: seedFor("annotate"), numRuns: 300 },
    );
  });
});

describe("decode rules", () => {
  it("enforces every limit with E_DECODE_LIMIT, the field and the offset", () => {
    const bytes = encodeMessage(
      { ...base, causalHistory: [{ messageId: "a" }, { messageId: "b" }], repairRequest: [{ messageId: "r" }, { messageId: "s" }], bloomFilter: new Uint8Array(10), content: new Uint8Array(20) },
      { dialect: "spec" },
    );
    expect(decodeError(() => decodeMessage(bytes, { limits: { wireBytesMax: bytes.length - 1 } })).code).toBe("E_DECODE_LIMIT");
    const history = decodeError(() => decodeMessage(bytes, { dialect: "spec", limits: { causalHistoryEntriesMax: 1 } }));
    expect([history.code, history.field]).toEqual(["E_DECODE_LIMIT", "causalHistory[1]"]);
    expect(bytes[history.offset]).toBe(0x5a);
    expect(decodeError(() => decodeMessage(bytes, { dialect: "spec", limits: { repairRequestEntriesMax: 1 } })).field).toBe("repairRequest[1]");
    expect(decodeError(() => decodeMessage(bytes, { dialect: "spec", limits: { bloomBytesMax: 9 } })).field).toBe("bloomFilter");
    expect(decodeError(() => decodeMessage(bytes, { dialect: "spec", limits: { contentBytesMax: 19 } })).field).toBe("content");
    const id = decodeError(() => decodeMessage(bytes, { dialect: "spec", limits: { idBytesMax: 4 } }));
    expect([id.code, id.field, id.offset]).toEqual(["E_DECODE_LIMIT", "senderId", 1]);
    expect(decodeMessage(bytes, { limits: { causalHistoryEntriesMax: 2, repairRequestEntriesMax: 2, bloomBytesMax: 10, contentBytesMax: 20 } }).content).toHaveLength(20);
  });

  it("rejects invalid UTF-8 in string fields with E_DECODE_UTF8 at the value's offset", () => {
    const bytes = new ProtoWriter().bytesField(1, new Uint8Array([0x61, 0xff])).finish();
    const error = decodeError(() => decodeMessage(bytes, { dialect: "spec" }));
    expect([error.code, error.field, error.offset]).toEqual(["E_DECODE_UTF8", "senderId", 2]);
    // a BOM is data, not stripped
    const bom = encodeMessage({ ...base, messageId: "\uFEFFx" }, { dialect: "spec" });
    expect(decodeMessage(bom).messageId).toBe("\uFEFFx");
  });

  it("refuses to encode what a dialect cannot carry", () => {
    expect(() => encodeMessage({ ...base, messageId: "a\uD800" }, { dialect: "spec" })).toThrow(SdsError);
    expect(() => encodeMessage({ ...base, lamportTimestamp: undefined }, { dialect: "nim" })).toThrow(SdsError);
    expect(() => encodeMessage({ ...base, lamportTimestamp: -1n }, { dialect: "spec" })).toThrow(SdsError);
    expect(() => encodeMessage({ ...base, lamportTimestamp: 1n << 64n }, { dialect: "spec" })).toThrow(SdsError);
  });

  it("nim: fields 1, 2, 4, 5 are required, 6, 7, 13 are not, unknown fields are skipped", () => {
    const full = (skip: number[]) => {
      const writer = new ProtoWriter();
      if (!skip.includes(1)) writer.stringField(1, "id");
      if (!skip.includes(2)) writer.uint64Field(2, 9n);
      if (!skip.includes(4)) writer.stringField(4, "chan");
      if (!skip.includes(5)) writer.bytesField(5, new Uint8Array([1]));
      writer.uint64Field(99, 5n);
      return writer.finish();
    };
    expect(decodeMessage(full([]), { dialect: "nim" })).toEqual({ senderId: "", messageId: "id", channelId: "chan", lamportTimestamp: 9n, causalHistory: [], repairRequest: [], content: new Uint8Array([1]) });
    for (const [field, name] of [[1, "messageId"], [2, "lamportTimestamp"], [4, "channelId"], [5, "content"]] as const) {
      const error = decodeError(() => decodeMessage(full([field]), { dialect: "nim" }));
      expect([error.code, error.field]).toEqual(["E_DECODE_MISSING_FIELD", name]);
    }
    const entryless = new ProtoWriter().stringField(1, "id").uint64Field(2, 1n).bytesField(3, new ProtoWriter().stringField(2, "x").finish()).stringField(4, "c").bytesField(5, new Uint8Array()).finish();
    expect(decodeError(() => decodeMessage(entryless, { dialect: "nim" })).field).toBe("causalHistory[0].messageId");
  });

  it("a known field with the wrong wire type is E_DECODE_WIRE_TYPE", () => {
    const bytes = new ProtoWriter().bytesField(10, new Uint8Array([1])).finish();
    const error = decodeError(() => decodeMessage(bytes, { dialect: "spec" }));
    expect([error.code, error.field, error.offset]).toEqual(["E_DECODE_WIRE_TYPE", "lamportTimestamp", 0]);
  });

  it("detection is total and explains itself", () => {
    expect(detectDialect(new Uint8Array())).toMatchObject({ dialect: undefined, confidence: "unknown" });
    const garbage = detectDialect(new Uint8Array([0x12, 0x05, 0x01]));
    expect(garbage.confidence).toBe("unknown");
    expect(garbage.reason).toContain("neither");
    expect(decodeError(() => decodeMessage(new Uint8Array())).code).toBe("E_DECODE_DIALECT");
    // nim bytes missing content: decodes as neither, markers point to nim, nim's error wins
    const nimish = new ProtoWriter().stringField(1, "id").uint64Field(2, 1n).stringField(4, "c").finish();
    expect(detectDialect(nimish).dialect).toBe("nim");
    expect(decodeError(() => decodeMessage(nimish)).code).toBe("E_DECODE_MISSING_FIELD");
  });
});
