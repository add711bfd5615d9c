import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fastDecode, fastEncode } from "../../../../src/core/protocol/engine/fast-codec.js";
import type { DialectName, HistoryEntry, SdsMessage } from "../../../../src/core/protocol/types.js";
import { decodeMessage, encodeMessage } from "../../../../src/core/protocol/wire/index.js";

const id = fc.oneof(fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), maxLength: 70 }), fc.string({ maxLength: 12 }), fc.constantFrom("", "alice", "αβγ", "sync-abc"));
const entry: fc.Arbitrary<HistoryEntry> = fc.record(
  { messageId: id, retrievalHint: fc.uint8Array({ maxLength: 40 }), senderId: id },
  { requiredKeys: ["messageId"] },
);
const message = (dialect: DialectName): fc.Arbitrary<SdsMessage> =>
  fc.record({
    senderId: id,
    messageId: id,
    channelId: id,
    lamportTimestamp: dialect === "nim" ? fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) : fc.option(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { nil: undefined }),
    causalHistory: fc.array(entry, { maxLength: 8 }),
    bloomFilter: fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined }),
    content: fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined }),
    repairRequest: fc.array(entry, { maxLength: 3 }),
  }).map((value) => {
    const result: SdsMessage = { ...value };
    for (const key of ["lamportTimestamp", "bloomFilter", "content"] as const) if (result[key] === undefined) delete result[key];
    return result;
  });

describe("engine fast codec", () => {
  for (const dialect of ["spec", "nim"] as const) {
    it(`encodes byte-identically to encodeMessage (${dialect})`, () => {
      fc.assert(
        fc.property(message(dialect), (value) => {
          expect(Buffer.from(fastEncode(value, dialect)).toString("hex")).toBe(Buffer.from(encodeMessage(value, { dialect })).toString("hex"));
        }),
        { numRuns: 300 },
      );
    });

    it(`decodes what the reference decoder decodes, identically, or defers (${dialect})`, () => {
      fc.assert(
        fc.property(message(dialect), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }), (value, mutations) => {
          const wire = encodeMessage(value, { dialect });
          for (const [position, byte] of mutations) if (wire.length > 0) wire[position % wire.length] = byte;
          const fast = fastDecode(wire, dialect);
          let reference: SdsMessage | undefined;
          try {
            reference = decodeMessage(wire, { dialect });
          } catch {
            reference = undefined;
          }
          if (fast !== undefined) {
            expect(reference).toBeDefined();
            expect(fast).toEqual(reference);
          }
          if (mutations.length === 0) expect(fast).toEqual(reference);
        }),
        { numRuns: 400 },
      );
    });
  }

  it("shares one object per distinct causal entry across decodes", () => {
    const history = [{ messageId: "m1", senderId: "bob" }, { messageId: "m2", senderId: "bob" }];
    const wire = encodeMessage({ senderId: "a", messageId: "x", channelId: "c", lamportTimestamp: 5n, causalHistory: history, content: new Uint8Array([1]), repairRequest: [] }, { dialect: "spec" });
    const first = fastDecode(wire, "spec")!;
    const second = fastDecode(wire, "spec")!;
    expect(second.causalHistory[0]).toBe(first.causalHistory[0]);
    expect(first.causalHistory).toEqual(history);
  });

  it("rejects unencodable values with the same typed error as the reference", () => {
    const bad: SdsMessage = { senderId: "\uD800", messageId: "x", channelId: "c", lamportTimestamp: 1n, causalHistory: [], repairRequest: [] };
    expect(() => fastEncode(bad, "spec")).toThrow(expect.objectContaining({ code: "E_INPUT_INVALID" }));
    expect(() => fastEncode({ ...bad, senderId: "a", lamportTimestamp: 1n << 64n }, "spec")).toThrow(expect.objectContaining({ code: "E_INPUT_INVALID" }));
    expect(() => fastEncode({ ...bad, senderId: "a", lamportTimestamp: undefined }, "nim")).toThrow(expect.objectContaining({ code: "E_INPUT_INVALID" }));
  });
});
