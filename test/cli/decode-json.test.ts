/**
 * The hand-built JSON of `message` records must be byte-identical to JSON.stringify of the
 * same record, for any message of either dialect (odd strings, entries with and without
 * hints and senders, bloom filters), and must decline records it does not know.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeBlob } from "../../src/cli/decode-blob.js";
import { messageRecordTail } from "../../src/cli/decode-json.js";
import { encodeMessage } from "../../src/core/protocol/wire/index.js";
import { nimMessageArb, seedFor, specMessageArb } from "../core/protocol/wire/arbitraries.js";

const stringified = (record: Record<string, unknown>): string => JSON.stringify(record).slice(`{"type":${JSON.stringify(record.type)}`.length);

describe("messageRecordTail", () => {
  it("writes exactly what JSON.stringify writes for every decoded message", () => {
    const blobArb = fc.oneof(
      specMessageArb.map((message) => encodeMessage(message, { dialect: "spec" })),
      nimMessageArb.map((message) => encodeMessage(message, { dialect: "nim" })),
    );
    fc.assert(
      fc.property(blobArb, fc.constantFrom("auto" as const, "spec" as const, "nim" as const), (bytes, dialect) => {
        const { record } = decodeBlob(bytes, { dialect, what: "message", raw: false, maxDepth: 4, bloom: {}, bytesShownMax: 48, rows: false });
        const tail = messageRecordTail(record);
        if (record.type === "message") expect(tail).toBe(stringified(record));
        else expect(tail).toBeUndefined();
      }),
      { seed: seedFor("messageRecordTail"), numRuns: 2000 },
    );
  });

  it("escapes quotes, control characters and lone surrogates as JSON.stringify does, and declines unknown shapes", () => {
    const record = {
      type: "message", dialect: "spec", detection: { dialect: "spec", confidence: "likely", reason: 'a "quoted"\nreason' }, kind: "content",
      message: { senderId: "\u0001\\", messageId: "\ud800x", channelId: "é😀", causalHistory: [{ messageId: "m", senderId: "s" }], content: "00", contentText: "\t", repairRequest: [] },
      bloomError: { code: "E_BLOOM_PARAMS", message: "x" },
    };
    expect(messageRecordTail(record)).toBe(stringified(record));
    expect(messageRecordTail({ ...record, message: { ...record.message, extra: 1 } })).toBeUndefined();
    expect(messageRecordTail({ ...record, type: "raw" })).toBeUndefined();
    expect(messageRecordTail({ ...record, detection: { dialect: undefined, confidence: "unknown", reason: "r" } })).toBeUndefined();
  });
});
