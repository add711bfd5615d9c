/**
 * H2 (oversize), H3 (huge causal histories and ids) and H6 (absurd bloom filters) of
 * reliability.md §5.6: each is refused with a typed error or ignored as the plan says, and the
 * manager keeps working afterwards.
 */
import { describe, expect, it } from "vitest";
import { isSdsError } from "../../src/core/errors.js";
import { BloomFilter } from "../../src/core/protocol/bloom/bloom-filter.js";
import { encodeNimBloom } from "../../src/core/protocol/bloom/codec.js";
import type { DialectName } from "../../src/core/protocol/types.js";
import { START_MS, rejection, subject, wire } from "./fixtures.js";

function codeOf(error: unknown): string | undefined {
  return isSdsError(error) ? error.code : error === undefined ? undefined : "untyped";
}

async function stillWorks(manager: ReturnType<typeof subject>["manager"], dialect: DialectName = "spec"): Promise<void> {
  const result = await manager.receive(wire({ messageId: `ok-${Math.random()}`, senderId: "honest", lamportTimestamp: BigInt(START_MS + 5) }, dialect));
  expect(result.delivered).toHaveLength(1);
}

describe("H2: oversize input", () => {
  it("refuses content above contentBytesMax on send and a wire message above wireBytesMax before decoding", async () => {
    const { manager } = subject("me", "spec", { contentBytesMax: 1024 * 1024, wireBytesMax: 1024 * 1024 + 64 * 1024 });
    expect(codeOf(await rejection(manager.send("chan", new Uint8Array(1024 * 1024 + 1))))).toBe("E_PAYLOAD_TOO_LARGE");
    expect(codeOf(await rejection(manager.send("chan", new Uint8Array(0))))).toBe("E_PAYLOAD_EMPTY");
    const oversize = new Uint8Array(1024 * 1024 + 64 * 1024 + 1);
    expect(codeOf(await rejection(manager.receive(oversize)))).toBe("E_DECODE_LIMIT");
    const big = wire({ messageId: "big", content: new Uint8Array(1024 * 1024 + 64 * 1024) });
    expect(codeOf(await rejection(manager.receive(big)))).toBe("E_DECODE_LIMIT");
    await stillWorks(manager);
    expect((await manager.send("chan", new Uint8Array(1024 * 1024))).wire.length).toBeGreaterThan(1024 * 1024);
  });
});

describe("H3: huge causal histories and ids", () => {
  for (const entries of [10_000, 100_000]) {
    it(`refuses ${entries.toLocaleString("en")} causal history entries at the decode limit`, async () => {
      const { manager } = subject();
      const causalHistory = Array.from({ length: entries }, (_, index) => ({ messageId: `dep-${index}` }));
      const error = await rejection(manager.receive(wire({ messageId: "huge", causalHistory })));
      expect(codeOf(error)).toBe("E_DECODE_LIMIT");
      await stillWorks(manager);
    });
  }

  it("refuses a 1 MB id, and handles duplicate and empty dependency ids without delivering early", async () => {
    const { manager, clock, of } = subject();
    expect(codeOf(await rejection(manager.receive(wire({ messageId: "x".repeat(1024 * 1024) }))))).toBe("E_DECODE_LIMIT");
    const duplicated = await manager.receive(wire({ messageId: "dups", causalHistory: [{ messageId: "absent" }, { messageId: "absent" }, { messageId: "absent" }] }));
    expect(duplicated.delivered).toEqual([]);
    const empty = await rejection(manager.receive(wire({ messageId: "empty-dep", causalHistory: [{ messageId: "" }] })));
    expect(isSdsError(empty) || empty === undefined).toBe(true);
    clock.nowMs += 20_000;
    await manager.tick();
    // After the lost-message timeout the waiting message is delivered once, with the dependency reported lost.
    expect(of("delivered").filter((event) => event.delivered.messageId === "dups")).toHaveLength(1);
    expect(of("lost").some((event) => event.missing.some((entry) => entry.messageId === "absent"))).toBe(true);
    await stillWorks(manager);
  });
});

/** Varint of any non-negative bigint (the codecs refuse to write absurd values, a peer need not). */
function varint(value: bigint): number[] {
  const bytes: number[] = [];
  let rest = value;
  do {
    const low = Number(rest & 0x7fn);
    rest >>= 7n;
    bytes.push(rest > 0n ? low | 0x80 : low);
  } while (rest > 0n);
  return bytes;
}

/** A nim-dialect filter written by hand, so any parameter value can be put on the wire. */
function handNimBloom(fields: { capacity: number; errorRateMicros: number; kHashes: number; mBits: number; words: number }): Uint8Array {
  const words = new Array<number>(fields.words * 8).fill(0xff);
  return Uint8Array.from([
    0x0a, ...varint(BigInt(words.length)), ...words,
    0x10, ...varint(BigInt(fields.capacity)), 0x18, ...varint(BigInt(fields.errorRateMicros)),
    0x20, ...varint(BigInt(fields.kHashes)), 0x28, ...varint(BigInt(fields.mBits)),
  ]);
}

describe("H6: absurd bloom filters", () => {
  const absurd: Array<[string, { capacity: number; errorRateMicros: number; kHashes: number; mBits: number; words: number }]> = [
    ["k = 0", { capacity: 100, errorRateMicros: 1_000, kHashes: 0, mBits: 64, words: 2 }],
    ["k = 33", { capacity: 100, errorRateMicros: 1_000, kHashes: 33, mBits: 64, words: 2 }],
    ["k = 2^31", { capacity: 100, errorRateMicros: 1_000, kHashes: 2 ** 31, mBits: 64, words: 2 }],
    ["m = 0", { capacity: 100, errorRateMicros: 1_000, kHashes: 3, mBits: 0, words: 1 }],
    ["m beyond the bytes", { capacity: 100, errorRateMicros: 1_000, kHashes: 3, mBits: 64 * 100, words: 2 }],
    ["capacity = 0", { capacity: 0, errorRateMicros: 1_000, kHashes: 3, mBits: 64, words: 2 }],
    ["capacity = 2^53", { capacity: 2 ** 53, errorRateMicros: 1_000, kHashes: 3, mBits: 64, words: 2 }],
    ["error rate 1.5", { capacity: 100, errorRateMicros: 1_500_000, kHashes: 3, mBits: 64, words: 2 }],
  ];

  for (const [name, fields] of absurd) {
    it(`nim filter with ${name} is refused by fromBytes with E_BLOOM_PARAMS/E_DECODE_*`, () => {
      const bytes = handNimBloom(fields);
      let code: string | undefined;
      try {
        BloomFilter.fromBytes(bytes, { dialect: "nim" });
      } catch (error) {
        code = isSdsError(error) ? error.code : "untyped";
      }
      expect(code).toMatch(/^E_(BLOOM_PARAMS|DECODE_)/);
    });
  }

  it("a message carrying an absurd nim filter is still delivered, the filter ignored, no acknowledgement taken from it", async () => {
    const { manager, of } = subject("me", "nim");
    const sent = await manager.send("chan", new TextEncoder().encode("mine"));
    const bloom = encodeNimBloom({ capacity: 100, errorRateMicros: 1_000, kHashes: 2 ** 31, mBits: 64, bits: new Uint8Array(16).fill(0xff) });
    const result = await manager.receive(wire({ messageId: "carrier", senderId: "peer", lamportTimestamp: 10n, bloomFilter: bloom }, "nim"));
    expect(result.delivered.map((delivered) => delivered.messageId)).toEqual(["carrier"]);
    expect(result.acknowledged).toEqual([]);
    expect(of("acknowledged").map((event) => event.messageId)).not.toContain(sent.messageId);
    expect(of("invalidBloom")).toHaveLength(1);
  });

  for (const length of [0, 7, 8, 8 * 1024 + 3]) {
    it(`a spec message with a ${length}-byte all-ones filter of the wrong length is delivered and acknowledges nothing`, async () => {
      const { manager } = subject();
      const sent = await manager.send("chan", new TextEncoder().encode("mine"));
      const result = await manager.receive(wire({ messageId: `carrier-${length}`, bloomFilter: new Uint8Array(length).fill(0xff) }));
      expect(result.delivered).toHaveLength(1);
      expect(result.acknowledged).not.toContain(sent.messageId);
    });
  }

  it("a 10 MB filter is refused with the whole message before decoding", async () => {
    const { manager } = subject();
    expect(codeOf(await rejection(manager.receive(wire({ messageId: "giant-bloom", bloomFilter: new Uint8Array(10 * 1024 * 1024) }))))).toBe("E_DECODE_LIMIT");
    await stillWorks(manager);
  });
});
