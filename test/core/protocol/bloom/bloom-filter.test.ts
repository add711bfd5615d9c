import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { BloomFilter as WakuBloomFilter } from "@waku/sds";
import { hashN as wakuHashN } from "../../../../node_modules/@waku/sds/dist/nim_hashn/nim_hashn.mjs";
import { BloomFilter, RollingBloomFilter, sizeBloomFilter } from "../../../../src/core/protocol/bloom/index.js";
import { hashN } from "../../../../src/core/protocol/hash/index.js";
import { DecodeError, SdsError } from "../../../../src/core/errors.js";
import { seededRandom } from "../../../../src/core/random.js";

const seed = Number(process.env.SDS_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`bloom-filter.test.ts seed ${seed} (set SDS_SEED to replay)`);

/** The library's seeded PRNG (mulberry32), so a run replays from the printed seed. */
const prng = seededRandom;

function randomId(random: () => number): string {
  const kind = random();
  if (kind < 0.6) return Array.from({ length: 64 }, () => "0123456789abcdef"[Math.floor(random() * 16)]).join("");
  const length = Math.floor(random() * 40);
  return Array.from({ length }, () => String.fromCharCode(random() < 0.8 ? 32 + Math.floor(random() * 95) : Math.floor(random() * 0xffff))).join("");
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

describe("sizing", () => {
  it("default filter: k 10, 15 bits per element, 150000 bits, 2344 words", () => {
    expect(sizeBloomFilter({ capacity: 10000, errorRate: 0.001 })).toEqual({ kHashes: 10, nBitsPerElem: 15, mBits: 150000, wordCount: 2344 });
    const filter = new BloomFilter();
    expect(filter.params).toEqual({ capacity: 10000, errorRate: 0.001, kHashes: 10, mBits: 150000, hashFamily: "murmur3" });
    expect(filter.toBytes("spec").length).toBe(18752);
    expect(filter.toBytes("nim").length).toBe(18768);
    expect(new BloomFilter({ dialect: "nim" }).params.hashFamily).toBe("farmhash64");
  });
  it("nim's test assertions: explicit k with and without forced bits per element", () => {
    expect(sizeBloomFilter({ capacity: 10000, errorRate: 0.001, kHashes: 4, forceNBitsPerElem: 20 }).mBits).toBe(200000);
    expect(sizeBloomFilter({ capacity: 1, errorRate: 0.1, kHashes: 2 }).nBitsPerElem).toBe(6);
    expect(sizeBloomFilter({ capacity: 1, errorRate: 0.01, kHashes: 7 }).nBitsPerElem).toBe(10);
    expect(sizeBloomFilter({ capacity: 1, errorRate: 0.001, kHashes: 7 }).nBitsPerElem).toBe(16);
  });
  it("k = 3 uses the correct table row (js-waku's duplicated row gives 4 more bits below 0.00596)", () => {
    expect(sizeBloomFilter({ capacity: 1, errorRate: 0.0055, kHashes: 3 }).nBitsPerElem).toBe(16);
    const js = new WakuBloomFilter({ capacity: 1, errorRate: 0.0055, kHashes: 3 }, wakuHashN);
    expect(js.totalBits).toBe(20);
    expect(sizeBloomFilter({ capacity: 1, errorRate: 0.01, kHashes: 3 }).nBitsPerElem).toBe(new WakuBloomFilter({ capacity: 1, errorRate: 0.01, kHashes: 3 }, wakuHashN).totalBits);
  });
  it("matches @waku/sds sizing for optimal k over many (capacity, errorRate) pairs, and explicit k != 3", () => {
    const random = prng(seed);
    for (let trial = 0; trial < 300; trial++) {
      const capacity = 1 + Math.floor(random() * 20000);
      const errorRate = 10 ** -(1 + random() * 5);
      const ours = sizeBloomFilter({ capacity, errorRate });
      const js = new WakuBloomFilter({ capacity, errorRate }, wakuHashN);
      expect([ours.kHashes, ours.mBits, ours.wordCount]).toEqual([js.kHashes, js.totalBits, js.data.length]);
      const k = [1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12][Math.floor(random() * 11)]!;
      let jsExplicit: WakuBloomFilter | undefined;
      try {
        jsExplicit = new WakuBloomFilter({ capacity, errorRate, kHashes: k }, wakuHashN);
      } catch {
        jsExplicit = undefined;
      }
      if (jsExplicit === undefined) expect(() => sizeBloomFilter({ capacity, errorRate, kHashes: k })).toThrow(SdsError);
      else expect(sizeBloomFilter({ capacity, errorRate, kHashes: k }).mBits).toBe(jsExplicit.totalBits);
    }
  });
  it("rejects bad local options with E_BLOOM_PARAMS", () => {
    for (const options of [{ capacity: 0 }, { capacity: 1.5 }, { errorRate: 0 }, { errorRate: 1 }, { errorRate: Number.NaN }, { kHashes: 13 }, { kHashes: 40, forceNBitsPerElem: 10 }, { capacity: 1_000_000, errorRate: 1e-9 }]) {
      expect(() => new BloomFilter(options), JSON.stringify(options)).toThrow(expect.objectContaining({ code: "E_BLOOM_PARAMS" }));
    }
  });
});

describe("spec dialect against @waku/sds BloomFilter", () => {
  it("§2.3 example: capacity 10, errorRate 0.01, msg1 + msg2", () => {
    const filter = new BloomFilter({ capacity: 10, errorRate: 0.01 });
    filter.add("msg1");
    filter.add("msg2");
    expect(filter.params.kHashes).toBe(7);
    expect(filter.params.mBits).toBe(100);
    expect(hex(filter.toBytes("spec"))).toBe("00000002109421480000000810204000");
    const nim = new BloomFilter({ capacity: 10, errorRate: 0.01, dialect: "nim" });
    nim.add("msg1");
    nim.add("msg2");
    expect(hex(nim.toBytes("nim"))).toBe("0a1001014d92140040000001000400000000100a18904e20072864");
  });

  it("same bytes and same lookups after thousands of random inserts", () => {
    const random = prng(seed ^ 0x5eed);
    for (const options of [{ capacity: 10000, errorRate: 0.001 }, { capacity: 50, errorRate: 0.05 }, { capacity: 300, errorRate: 0.01, kHashes: 5 }]) {
      const ours = new BloomFilter(options);
      const theirs = new WakuBloomFilter(options, wakuHashN);
      const inserted: string[] = [];
      for (let index = 0; index < 3000; index++) {
        const id = randomId(random);
        inserted.push(id);
        ours.add(id);
        theirs.insert(id);
      }
      expect(hex(ours.toBytes("spec"))).toBe(hex(theirs.toBytes()));
      for (let word = 0; word < ours.wordCount; word += 97) expect(ours.word(word)).toBe(BigInt.asUintN(64, theirs.data[word]!));
      for (const index of ours.indicesOf(inserted[0]!)) expect(ours.isBitSet(index)).toBe(true);
      for (const id of inserted) expect(ours.has(id)).toBe(true);
      for (let index = 0; index < 3000; index++) {
        const probe = randomId(random);
        expect(ours.has(probe)).toBe(theirs.lookup(probe));
      }
      const decoded = WakuBloomFilter.fromBytes(ours.toBytes("spec"), options, wakuHashN);
      expect(hex(decoded.toBytes())).toBe(hex(ours.toBytes("spec")));
      const back = BloomFilter.fromBytes(theirs.toBytes(), { dialect: "spec", ...options });
      expect(hex(back.toBytes("spec"))).toBe(hex(ours.toBytes("spec")));
      expect(back.params).toEqual(ours.params);
    }
  });

  it("indices of an id are the derived default-filter indices", () => {
    const id = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    expect(new BloomFilter().indicesOf(id)).toEqual([115740, 1955, 38170, 74385, 110600, 146815, 33030, 69245, 105460, 141675]);
    expect(new BloomFilter({ dialect: "nim" }).indicesOf(id)).toEqual([131840, 107227, 82614, 58001, 33388, 8775, 134162, 109549, 84936, 60323]);
    expect(new BloomFilter().indicesOf("hello")).toEqual(Array.from({ length: 10 }, (_, n) => hashN("murmur3", "hello", n, 150000)));
  });

  it("rejects a spec blob whose length does not match the receiver's parameters", () => {
    const bytes = new BloomFilter({ capacity: 100 }).toBytes("spec");
    for (const blob of [bytes, new Uint8Array(18751), new Uint8Array(18760), new Uint8Array(0)]) {
      let error: unknown;
      try {
        BloomFilter.fromBytes(blob, { dialect: "spec", baseOffset: 7 });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(DecodeError);
      expect((error as DecodeError).code).toBe("E_BLOOM_PARAMS");
      expect((error as DecodeError).offset).toBe(7);
    }
  });
});

describe("nim dialect framing", () => {
  it("round-trips parameters and bits; words are little-endian", () => {
    const filter = new BloomFilter({ capacity: 10, errorRate: 0.01, dialect: "nim" });
    filter.add("msg1");
    const bytes = filter.toBytes("nim");
    const back = BloomFilter.fromBytes(bytes, { dialect: "nim" });
    expect(back.params).toEqual(filter.params);
    expect(back.has("msg1")).toBe(true);
    expect(hex(back.toBytes("nim"))).toBe(hex(bytes));
    // Word 0 little-endian in the nim field equals word 0 big-endian in the spec bytes.
    expect(hex(bytes.subarray(2, 10))).toBe(hex(filter.toBytes("spec").subarray(0, 8).reverse()));
  });

  it("default nim filter header and tail as derived (§2.3)", () => {
    const bytes = new BloomFilter({ dialect: "nim" }).toBytes("nim");
    expect(hex(bytes.subarray(0, 4))).toBe("0ac09201");
    expect(hex(bytes.subarray(bytes.length - 12))).toBe("10904e18e807200a28f09309");
  });

  it("fast-check: no false negatives, clone independence, round trips in both framings", () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 70 }), { maxLength: 60 }),
        fc.constantFrom("spec" as const, "nim" as const),
        fc.integer({ min: 1, max: 200 }),
        (ids, dialect, capacity) => {
          const filter = new BloomFilter({ capacity, errorRate: 0.01, dialect });
          const copy = filter.clone();
          for (const id of ids) filter.add(id);
          for (const id of ids) expect(filter.has(id)).toBe(true);
          if (ids.length > 0) expect(copy.bitCount).toBe(0);
          const back = BloomFilter.fromBytes(filter.toBytes(dialect), { dialect, capacity, errorRate: 0.01 });
          expect(hex(back.toBytes(dialect))).toBe(hex(filter.toBytes(dialect)));
          expect(back.bitCount).toBe(filter.bitCount);
          expect(filter.bitCount).toBeLessThanOrEqual(ids.length * filter.params.kHashes);
        },
      ),
      { numRuns: 300, seed },
    );
  });
});
