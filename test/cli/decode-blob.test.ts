/**
 * decodeBlob (what `sds decode` does per blob) and splitBlobs on hostile input: whatever the
 * bytes, they return a record (an `error` record at worst) and never throw; every row of a
 * successful tree lies inside the blob. Seeded with SDS_SEED.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeBlob, type BlobDecodeOptions, type DecodeTarget } from "../../src/cli/decode-blob.js";
import { splitBlobs } from "../../src/cli/input.js";
import { SdsError } from "../../src/core/errors.js";
import { dumpProtobuf, encodeMessage } from "../../src/core/protocol/wire/index.js";
import { jsonReplacer } from "../../src/cli/base-command.js";
import { nimMessageArb, seedFor, specMessageArb } from "../core/protocol/wire/arbitraries.js";

const RUNS = Number(process.env.SDS_CLI_FUZZ_RUNS ?? 3000);

const options = (what: DecodeTarget, raw = false): BlobDecodeOptions => ({ dialect: "auto", what, raw, maxDepth: 6, bloom: {}, bytesShownMax: 48 });

const blobArb = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  specMessageArb.map((message) => encodeMessage(message, { dialect: "spec" })),
  nimMessageArb.map((message) => encodeMessage(message, { dialect: "nim" })),
  fc.tuple(nimMessageArb.map((message) => encodeMessage(message, { dialect: "nim" })), fc.nat(), fc.nat(255)).map(([bytes, at, value]) => {
    const copy = Uint8Array.from(bytes);
    if (copy.length > 0) copy[at % copy.length] = value;
    return copy;
  }),
);

describe("decodeBlob", () => {
  it("never throws and keeps tree rows inside the blob", () => {
    fc.assert(
      fc.property(blobArb, fc.constantFrom<DecodeTarget>("auto", "message", "bloom", "envelope", "segment"), fc.boolean(), (bytes, what, raw) => {
        const result = decodeBlob(bytes, options(what, raw));
        expect(typeof result.record.type).toBe("string");
        if (result.error) {
          expect(result.error).toBeInstanceOf(SdsError);
          if (!raw) expect(result.record.type).toBe("error");
        } else {
          expect(result.record.type).not.toBe("error");
        }
        for (const row of result.rows) {
          expect(row.offset).toBeGreaterThanOrEqual(0);
          expect(row.offset + row.length).toBeLessThanOrEqual(bytes.length);
        }
        JSON.stringify(result.record, (_key, value: unknown) => (typeof value === "bigint" ? value.toString() : value));
      }),
      { seed: seedFor("decodeBlob"), numRuns: RUNS },
    );
  });

  it("decodes a valid message in auto mode as a message of its dialect", () => {
    fc.assert(
      fc.property(nimMessageArb, fc.constantFrom("spec" as const, "nim" as const), (message, dialect) => {
        const bytes = encodeMessage(message, { dialect });
        const result = decodeBlob(bytes, options("message"));
        expect(result.error).toBeUndefined();
        expect(result.record).toMatchObject({ type: "message", dialect });
      }),
      { seed: seedFor("decodeBlob-valid"), numRuns: 300 },
    );
  });

  it("serializes --raw dumps without a replacer exactly as the replacer did", () => {
    fc.assert(
      fc.property(blobArb, (bytes) => {
        const record = decodeBlob(bytes, options("auto", true)).record;
        const fields = dumpProtobuf(bytes, { maxDepth: 6 }).fields;
        expect(JSON.parse(JSON.stringify(record)).fields).toEqual(JSON.parse(JSON.stringify(fields, jsonReplacer)));
        expect(JSON.stringify(record.fields)).toBe(JSON.stringify(fields, jsonReplacer));
      }),
      { seed: seedFor("decodeBlob-raw-json"), numRuns: 1000 },
    );
  });

  it("gives the same record without tree rows (the JSON fast path) as with them", () => {
    fc.assert(
      fc.property(blobArb, fc.constantFrom<DecodeTarget>("auto", "message", "envelope", "segment"), fc.boolean(), (bytes, what, raw) => {
        const withRows = decodeBlob(bytes, options(what, raw));
        const withoutRows = decodeBlob(bytes, { ...options(what, raw), rows: false });
        expect(withoutRows.record).toEqual(withRows.record);
        expect(withoutRows.error?.code).toBe(withRows.error?.code);
        if (withRows.record.type === "message" || withRows.record.type === "raw") expect(withoutRows.rows).toEqual([]);
      }),
      { seed: seedFor("decodeBlob-rows"), numRuns: 1000 },
    );
  });
});

describe("splitBlobs on any text", () => {
  it("returns blobs or throws only typed errors", () => {
    const textArb = fc.oneof(fc.string({ maxLength: 200 }), fc.array(fc.constantFrom("0x", "ab", " ", ",", "\n", "\\", "==", "Zz", "\\x", "-", "_", "\r\n", "7"), { maxLength: 60 }).map((parts) => parts.join("")));
    fc.assert(
      fc.property(textArb, fc.constantFrom("auto" as const, "hex" as const, "base64" as const, "raw" as const), fc.boolean(), (text, format, single) => {
        try {
          const parsed = splitBlobs(new TextEncoder().encode(text), { format, single, accepts: (bytes) => bytes.length % 2 === 0 });
          expect(parsed.blobs.length).toBeGreaterThan(0);
          parsed.blobs.forEach((blob, index) => expect(blob.index).toBe(index));
        } catch (error) {
          expect(error).toBeInstanceOf(SdsError);
        }
      }),
      { seed: seedFor("splitBlobs"), numRuns: RUNS },
    );
  });
});
