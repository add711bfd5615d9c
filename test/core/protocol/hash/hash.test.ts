import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { hashN as wakuHashN } from "../../../../node_modules/@waku/sds/dist/nim_hashn/nim_hashn.mjs";
import { farmHash64, hashN, hashPairModulo, hashString, nimHash, murmur3Hash } from "../../../../src/core/protocol/hash/index.js";
import { murmur3Elements } from "../../../../src/core/protocol/hash/murmur3.js";
import { farmHash64AbsModulo } from "../../../../src/core/protocol/hash/farmhash64.js";
import { farmHash64 as referenceFarmHash64 } from "./farmhash64-reference.js";

const vectorsDir = fileURLToPath(new URL("./vectors", import.meta.url));
const readVectors = (name: string): unknown => JSON.parse(readFileSync(`${vectorsDir}/${name}`, "utf8"));

interface FarmCase { inputHex: string; length: number; unsigned: string; nimHash: string }
interface MurmurVector { input: string; n: number; maxValue: number; expected: { hashA: number; hashB: number; hashC: number } }
interface Derived {
  nim_farm_vectors: { input: string; n: number; maxValue: number; nimFarm: number; jsMurmur: number }[];
  nim_indices_helloId_150000: number[];
  nim_indices_first_150000: number[];
  nim_hash_examples: Record<string, number>;
}

const farmCases = (readVectors("farmhash64.json") as { cases: FarmCase[] }).cases;
const murmurVectors = (readVectors("js-hashn-murmur.json") as { vectors: MurmurVector[] }).vectors;
// nim_hash_examples holds int64 values that JSON.parse would round: read them as text.
const derivedText = readFileSync(`${vectorsDir}/nim-and-js-derived.json`, "utf8");
const derived = JSON.parse(derivedText) as Derived;
const seed = Number(process.env.SDS_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`hash.test.ts fast-check seed ${seed} (set SDS_SEED to replay)`);
const HELLO_ID = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

describe("farmHash64 (reference vectors, lengths 0–299, 1000, 4096)", () => {
  it("has vectors for every length class including multiples of 64", () => {
    const lengths = new Set(farmCases.map((c) => c.length));
    for (const length of [0, 1, 3, 4, 8, 16, 17, 32, 33, 64, 65, 128, 192, 256, 1000, 4096]) expect(lengths.has(length)).toBe(true);
  });
  it.each(farmCases.map((c) => [c.length, c] as const))("length %i", (_length, vector) => {
    const bytes = Uint8Array.from(Buffer.from(vector.inputHex, "hex"));
    expect(bytes.length).toBe(vector.length);
    expect(farmHash64(bytes).toString()).toBe(vector.unsigned);
    expect(BigInt.asIntN(64, farmHash64(bytes)).toString()).toBe(vector.nimHash);
  });
  it("hashes a prefix of a larger buffer like the sliced bytes", () => {
    const big = Uint8Array.from(Buffer.from(farmCases[farmCases.length - 1]!.inputHex, "hex"));
    for (const length of [0, 7, 16, 31, 64, 65, 128, 129, 200]) {
      expect(farmHash64(big, length)).toBe(farmHash64(big.slice(0, length)));
    }
  });
});

describe("fast farmHash64 against the BigInt reference port", () => {
  it("agrees on random bytes of every length up to 400 and on |h| mod m (fast-check)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.oneof(fc.integer({ min: 1, max: 2 ** 31 }), fc.constantFrom(1, 150000, 2 ** 37 + 1, 2 ** 53 - 1)), (bytes, modulus) => {
        const expected = referenceFarmHash64(bytes);
        expect(farmHash64(bytes)).toBe(expected);
        const signed = BigInt.asIntN(64, expected);
        expect(farmHash64AbsModulo(bytes, bytes.length, modulus)).toBe(Number((signed < 0n ? -signed : signed) % BigInt(modulus)));
      }),
      { numRuns: 3000, seed },
    );
  });
});

describe("ids longer than the reusable scratch buffers", () => {
  it("hash the same as short-path references", () => {
    for (const length of [4095, 4096, 4097, 9000]) {
      const id = Array.from({ length }, (_, index) => String.fromCharCode(97 + (index % 26), 0x3b1 + (index % 5))).join("").slice(0, length);
      expect(hashN("murmur3", id, 3, 150000)).toBe(wakuHashN(id, 3, 150000));
      const signed = BigInt.asIntN(64, referenceFarmHash64(new TextEncoder().encode(id)));
      const signedB = BigInt.asIntN(64, referenceFarmHash64(new TextEncoder().encode(`${id} b`)));
      const abs = (value: bigint) => (value < 0n ? -value : value);
      expect(hashN("farmhash64", id, 3, 150000)).toBe(Number((abs(signed) % 150000n + 3n * (abs(signedB) % 150000n)) % 150000n));
      expect(hashN("murmur3", "short", 1, 100)).toBe(wakuHashN("short", 1, 100));
    }
  });
});

describe("nimHash (Nim >= 2.2 hash(string))", () => {
  it("matches Nim's own tests and the derived examples", () => {
    expect(nimHash("")).toBe(-7286425919675154353n);
    expect(nimHash("abracadabra")).toBe(-1119910118870047694n);
    for (const [input, expected] of Object.entries(derived.nim_hash_examples)) {
      const raw = new RegExp(`"${input}": (-?\\d+)`).exec(derivedText)![1]!;
      expect(nimHash(input)).toBe(BigInt(raw));
      expect(Number(raw)).toBe(expected);
      expect(hashString("farmhash64", input)).toBe(BigInt(raw));
    }
  });
  it("hashes UTF-8 bytes", () => {
    expect(nimHash("αβγδε")).toBe(BigInt.asIntN(64, farmHash64(new TextEncoder().encode("αβγδε"))));
  });
});

describe("murmur3 hashN (js-waku nim_hash_test_vectors.json)", () => {
  const ascii = murmurVectors.filter((v) => v.input !== "αβγδε");
  it.each(ascii.map((v) => [v.input, v.n, v.maxValue, v] as const))("%j n=%i m=%i", (_i, _n, _m, vector) => {
    const pair = new Float64Array(2);
    hashPairModulo("murmur3", vector.input, vector.maxValue, pair);
    expect(pair[0]).toBe(vector.expected.hashA);
    expect(pair[1]).toBe(vector.expected.hashB);
    expect(hashN("murmur3", vector.input, vector.n, vector.maxValue)).toBe(vector.expected.hashC);
  });

  it("αβγδε: the vector file is Murmur over UTF-8 bytes; spec peers (nim_hashn.mjs) hash code units, and so do we", () => {
    const greek = murmurVectors.filter((v) => v.input === "αβγδε");
    expect(greek.length).toBe(12);
    const utf8 = [...new TextEncoder().encode("αβγδε")];
    for (const vector of greek) {
      // The json was produced by a native Nim build: Murmur over the UTF-8 bytes.
      expect(Math.abs(murmur3Elements(utf8, utf8.length)) % vector.maxValue).toBe(vector.expected.hashA);
      const withSuffix = [...utf8, 0x20, 0x62];
      expect(Math.abs(murmur3Elements(withSuffix, withSuffix.length)) % vector.maxValue).toBe(vector.expected.hashB);
      // What a js-waku peer actually computes, which is what the spec dialect must match.
      expect(hashN("murmur3", vector.input, vector.n, vector.maxValue)).toBe(wakuHashN(vector.input, vector.n, vector.maxValue));
    }
    expect(hashN("murmur3", "αβγδε", 0, 10000)).not.toBe(5366);
  });

  it("agrees with @waku/sds hashN on arbitrary strings, including surrogates (fast-check)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 80 }), fc.integer({ min: 0, max: 31 }), fc.integer({ min: 1, max: 1 << 23 }), (text, n, m) => {
        expect(hashN("murmur3", text, n, m)).toBe(wakuHashN(text, n, m));
      }),
      { numRuns: 3000, seed },
    );
  });

  it("returns a signed 32-bit value", () => {
    expect(hashString("murmur3", "hello")).toBe(BigInt(murmur3Hash("hello")));
    const values = ["a", "b", "hello", HELLO_ID].map((s) => murmur3Hash(s));
    for (const value of values) expect(value === (value | 0)).toBe(true);
    expect(values.some((value) => value < 0)).toBe(true);
  });
});

describe("farmhash64 hashN (nim-sds built with Nim >= 2.2)", () => {
  it.each(derived.nim_farm_vectors.map((v) => [v.input, v.n, v] as const))("%j n=%i", (_i, _n, vector) => {
    expect(hashN("farmhash64", vector.input, vector.n, vector.maxValue)).toBe(vector.nimFarm);
    expect(hashN("murmur3", vector.input, vector.n, vector.maxValue)).toBe(wakuHashN(vector.input, vector.n, vector.maxValue));
  });
  it("gives the derived default-filter indices of the sha256('hello') id (§7)", () => {
    const indices = (family: "murmur3" | "farmhash64") => Array.from({ length: 10 }, (_, n) => hashN(family, HELLO_ID, n, 150000));
    expect(indices("farmhash64")).toEqual(derived.nim_indices_helloId_150000);
    expect(Array.from({ length: 10 }, (_, n) => hashN("farmhash64", "first", n, 150000))).toEqual(derived.nim_indices_first_150000);
    expect(indices("murmur3")).toEqual([115740, 1955, 38170, 74385, 110600, 146815, 33030, 69245, 105460, 141675]);
  });
  it("hashN stays in range for long and non-ASCII ids (fast-check)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 300 }), fc.integer({ min: 0, max: 31 }), fc.integer({ min: 1, max: 1 << 23 }), (text, n, m) => {
        const index = hashN("farmhash64", text, n, m);
        expect(Number.isInteger(index) && index >= 0 && index < m).toBe(true);
        const signed = nimHash(text);
        const abs = signed < 0n ? -signed : signed;
        const hashA = Number(abs % BigInt(m));
        const signedB = nimHash(`${text} b`);
        const hashB = Number((signedB < 0n ? -signedB : signedB) % BigInt(m));
        expect(index).toBe((hashA + n * hashB) % m);
      }),
      { numRuns: 500, seed },
    );
  });
});
