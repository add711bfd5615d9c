/**
 * Decoder fuzz: SDS_FUZZ_COUNT inputs (default 100,000) of random bytes and mutated valid
 * blobs of both dialects (bit flips, byte changes, insertions, deletions, truncations,
 * splices, varint bombs) through every decoding entry point. The only acceptable failure
 * is a DecodeError with a stable code and an offset inside the input; whatever decodes
 * must re-encode and decode to the same message. Seeded (SDS_SEED), seed printed.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DecodeError, ERROR_CODES } from "../../../../src/core/errors.js";
import type { DialectName, SdsMessage } from "../../../../src/core/protocol/types.js";
import { annotateMessage, decodeMessage, decodeMessageWithDialect, dumpProtobuf, encodeMessage } from "../../../../src/core/protocol/wire/index.js";
import { nimMessageArb, seedFor, specMessageArb } from "./arbitraries.js";
import { seededRandom } from "../../../../src/core/random.js";

const COUNT = Number(process.env.SDS_FUZZ_COUNT ?? 100_000);

/** The library's seeded PRNG (mulberry32), so a run replays from the printed seed. */
const prng = seededRandom;

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function mutate(source: Uint8Array, random: () => number, corpus: Uint8Array[]): Uint8Array {
  const int = (n: number) => Math.floor(random() * n);
  let bytes: Uint8Array = Uint8Array.from(source);
  const rounds = 1 + int(4);
  for (let round = 0; round < rounds; round++) {
    const at = bytes.length === 0 ? 0 : int(bytes.length);
    switch (int(7)) {
      case 0:
        if (bytes.length > 0) bytes[at] = (bytes[at] as number) ^ (1 << int(8));
        break;
      case 1:
        if (bytes.length > 0) bytes[at] = int(256);
        break;
      case 2:
        bytes = concat(bytes.subarray(0, at), Uint8Array.of(int(256)), bytes.subarray(at));
        break;
      case 3:
        bytes = concat(bytes.subarray(0, at), bytes.subarray(at + 1 + int(8)));
        break;
      case 4:
        bytes = bytes.subarray(0, at).slice();
        break;
      case 5: {
        const other = corpus[int(corpus.length)] as Uint8Array;
        const from = int(other.length + 1);
        bytes = concat(bytes.subarray(0, at), other.subarray(from, from + int(32)));
        break;
      }
      default: {
        const bomb = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01).subarray(int(6));
        bytes = concat(bytes.subarray(0, at), bomb, bytes.subarray(at));
      }
    }
  }
  return bytes;
}

/** Runs every entry point on `input`; returns whether it decoded as some dialect. */
function checkOne(input: Uint8Array): boolean {
  const typed = (error: unknown): void => {
    if (!(error instanceof DecodeError)) throw new Error(`untyped throw on ${Buffer.from(input).toString("hex")}: ${String(error)}`);
    if (!(error.code in ERROR_CODES) || error.offset < 0 || error.offset > input.length) {
      throw new Error(`bad DecodeError ${error.code} at ${error.offset} on ${Buffer.from(input).toString("hex")}`);
    }
  };
  let decoded: { message: SdsMessage; dialect: DialectName } | undefined;
  try {
    decoded = decodeMessageWithDialect(input, { limits: { bloomBytesMax: 512, idBytesMax: 256 } });
  } catch (error) {
    typed(error);
  }
  if (decoded) {
    const { message, dialect } = decoded;
    const fields = annotateMessage(input, dialect);
    expect(fields.reduce((sum, field) => sum + field.length, 0)).toBe(input.length);
    const again = decodeMessage(encodeMessage(message, { dialect }), { dialect });
    if (dialect === "spec") expect(again).toEqual(message);
    else expect([again.messageId, again.lamportTimestamp, again.causalHistory.length]).toEqual([message.messageId, message.lamportTimestamp, message.causalHistory.length]);
  }
  const dump = dumpProtobuf(input, { maxDepth: 4 });
  if (dump.error) typed(dump.error);
  return decoded !== undefined;
}

describe("decoder fuzz", () => {
  it(`survives ${COUNT} random and mutated inputs with typed errors only`, () => {
    const seed = seedFor("fuzz");
    const random = prng(seed);
    const specs = fc.sample(specMessageArb, { seed, numRuns: 200 }).map((message) => encodeMessage(message, { dialect: "spec" }));
    const nims = fc.sample(nimMessageArb, { seed: seed + 1, numRuns: 200 }).map((message) => encodeMessage(message, { dialect: "nim" }));
    const corpus = [...specs, ...nims].filter((bytes) => bytes.length > 0);
    let decoded = 0;
    for (let index = 0; index < COUNT; index++) {
      let input: Uint8Array;
      if (index % 4 === 0) {
        input = new Uint8Array(Math.floor(random() * 64));
        for (let at = 0; at < input.length; at++) input[at] = Math.floor(random() * 256);
      } else {
        input = mutate(corpus[Math.floor(random() * corpus.length)] as Uint8Array, random, corpus);
      }
      if (checkOne(input)) decoded++;
    }
    process.stderr.write(`[fuzz] ${COUNT} inputs, ${decoded} decoded as some dialect, all failures typed\n`);
    expect(decoded).toBeGreaterThan(0);
    expect(decoded).toBeLessThan(COUNT);
  }, 600_000); // ~16 s on an idle 2-core machine; the budget covers a heavily shared one
});
