/**
 * H1 (decoder fuzz through the whole receive path) and H11 (snapshot codec fuzz) of
 * reliability.md §5.6: random blobs and mutations of valid encodings (bit flips, truncation,
 * splicing, duplicated fields, varint overflow, oversize length prefixes) either decode or fail
 * with a typed error, never an untyped throw; the manager keeps working afterwards; and what
 * decodes re-encodes canonically.
 */
import { describe, expect, it } from "vitest";
import { isSdsError } from "../../src/core/errors.js";
import type { DialectName } from "../../src/core/protocol/types.js";
import { decodeMessage, encodeMessage } from "../../src/core/protocol/wire/index.js";
import { decodeChannelData, decodeChannelMeta, encodeChannelData, encodeChannelMeta } from "../../src/core/store/snapshot.js";
import type { ChannelData } from "../../src/core/store/contract.js";
import { SimRandom } from "../sim/prng.js";
import { START_MS, message, rejection, subject, testSeed, typedOrNone, wire } from "./fixtures.js";

/** One mutation of `bytes`, chosen by `random`. */
function mutate(bytes: Uint8Array, random: SimRandom, donor: Uint8Array): Uint8Array {
  const copy = bytes.slice();
  switch (random.int(7)) {
    case 0: // bit flips
      for (let flips = random.range(1, 8); flips > 0 && copy.length > 0; flips -= 1) copy[random.int(copy.length)]! ^= 1 << random.int(8);
      return copy;
    case 1: // truncation
      return copy.slice(0, random.int(copy.length + 1));
    case 2: // splice with another valid blob
      return Uint8Array.from([...copy.slice(0, random.int(copy.length + 1)), ...donor.slice(random.int(donor.length + 1))]);
    case 3: { // duplicate a slice (repeated fields)
      const start = random.int(copy.length + 1);
      const end = Math.min(copy.length, start + random.range(1, 40));
      return Uint8Array.from([...copy.slice(0, end), ...copy.slice(start, end), ...copy.slice(end)]);
    }
    case 4: // varint overflow: a run of continuation bytes
      return Uint8Array.from([...copy.slice(0, random.int(copy.length + 1)), ...new Array<number>(random.range(10, 20)).fill(0xff), 0x01]);
    case 5: // a length prefix far beyond the buffer
      return Uint8Array.from([0x12, 0xff, 0xff, 0xff, 0x7f, ...copy]);
    default: { // random bytes overwriting a range
      const start = random.int(copy.length + 1);
      for (let index = start; index < Math.min(copy.length, start + random.range(1, 16)); index += 1) copy[index] = random.int(256);
      return copy;
    }
  }
}

function validBlobs(dialect: DialectName): Uint8Array[] {
  return [
    wire({ messageId: "a1", causalHistory: [{ messageId: "z0", senderId: "peer", retrievalHint: Uint8Array.of(1, 2) }] }, dialect),
    wire({ messageId: "b2", repairRequest: [{ messageId: "a1", senderId: "peer" }], bloomFilter: new Uint8Array(16) }, dialect),
    wire({ messageId: "c3", lamportTimestamp: (1n << 64n) - 1n, content: new Uint8Array(300).fill(7) }, dialect),
    ...(dialect === "spec" ? [wire({ messageId: "sync-1", content: undefined }), wire({ messageId: "e4", lamportTimestamp: undefined })] : []),
  ];
}

describe("H1: decoder fuzz through ReliabilityManager.receive", () => {
  for (const dialect of ["spec", "nim"] as const) {
    it(`${dialect}: 4,000 random and mutated blobs give only typed errors, and the channel still delivers`, async () => {
      const seed = testSeed(`H1 ${dialect}`, 0x5d5);
      const random = new SimRandom(seed);
      const { manager } = subject("me", dialect);
      const valid = validBlobs(dialect);
      let untyped = 0;
      let decoded = 0;
      for (let index = 0; index < 4_000; index += 1) {
        const input = random.ratio(1, 4)
          ? Uint8Array.from({ length: random.int(512) }, () => random.int(256))
          : mutate(random.pick(valid), random, random.pick(valid));
        const error = await rejection(manager.receive(input));
        if (!typedOrNone(error)) untyped += 1;
        if (error === undefined) decoded += 1;
        let parsed;
        try {
          parsed = decodeMessage(input, { dialect });
        } catch (decodeError) {
          if (!isSdsError(decodeError)) untyped += 1;
          continue;
        }
        // What decodes re-encodes to a canonical form that is a fixed point of decode∘encode
        // (nim always writes field 6, so "no bloom" and "empty bloom" share one canonical form).
        const canonical = encodeMessage(parsed, { dialect });
        expect(encodeMessage(decodeMessage(canonical, { dialect }), { dialect })).toEqual(canonical);
      }
      expect(untyped).toBe(0);
      expect(decoded).toBeGreaterThan(0);
      const after = await manager.receive(wire({ messageId: "after-fuzz", senderId: "honest", lamportTimestamp: BigInt(START_MS + 1) }, dialect));
      expect(after.delivered.map((delivered) => delivered.messageId)).toContain("after-fuzz");
    });
  }
});

describe("H11: snapshot codec fuzz", () => {
  const data: ChannelData = {
    meta: {
      schemaVersion: 1, lamportTimestamp: 123n,
      outgoingBuffer: [{ message: message({ messageId: "o1" }), sendTimeMs: START_MS, resendAttempts: 2 }],
      incomingBuffer: [{ message: message({ messageId: "i1", causalHistory: [{ messageId: "gone" }] }), missingDeps: ["gone"] }],
      outgoingRepairBuffer: [{ entry: { messageId: "gone", senderId: "peer" }, minTimeRepairReqMs: START_MS + 5 }],
      incomingRepairBuffer: [{ entry: { messageId: "h1", senderId: "peer" }, cachedMessage: Uint8Array.of(1, 2, 3), minTimeRepairRespMs: START_MS + 9 }],
    },
    history: [message({ messageId: "h1", lamportTimestamp: 5n }), message({ messageId: "h2", lamportTimestamp: 6n })],
  };

  it("round-trips, and 10,000 random and mutated blobs give only typed errors", () => {
    const seed = testSeed("H11", 0x511);
    const random = new SimRandom(seed);
    const metaBytes = encodeChannelMeta(data.meta);
    const dataBytes = encodeChannelData(data);
    expect(decodeChannelMeta(metaBytes).outgoingBuffer[0]?.message.messageId).toBe("o1");
    let untyped = 0;
    for (let index = 0; index < 10_000; index += 1) {
      const useData = random.ratio(1, 2);
      const source = useData ? dataBytes : metaBytes;
      const input = random.ratio(1, 5) ? Uint8Array.from({ length: random.int(256) }, () => random.int(256)) : mutate(source, random, random.ratio(1, 2) ? dataBytes : metaBytes);
      try {
        if (useData) decodeChannelData(input);
        else decodeChannelMeta(input);
      } catch (error) {
        if (!isSdsError(error)) untyped += 1;
      }
    }
    expect(untyped).toBe(0);
  });

  it("refuses an unknown schemaVersion with E_SNAPSHOT_VERSION", () => {
    const bytes = encodeChannelMeta(data.meta);
    expect(bytes[0]).toBe(0x08); // field 1 (schemaVersion), varint
    const future = Uint8Array.from([0x08, 0x02, ...bytes.slice(2)]);
    let code: string | undefined;
    try {
      decodeChannelMeta(future);
    } catch (error) {
      code = isSdsError(error) ? error.code : "untyped";
    }
    expect(code).toBe("E_SNAPSHOT_VERSION");
  });
});
