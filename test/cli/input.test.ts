import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SdsError } from "../../src/core/errors.js";
import { isText, parseBase64, parseHex, readDelimited, splitBlobs } from "../../src/cli/input.js";
import { seedFor } from "../core/protocol/wire/arbitraries.js";

const text = (value: string): Uint8Array => new TextEncoder().encode(value);
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

function blobsHex(input: string, options: Parameters<typeof splitBlobs>[1] = { format: "auto" }): Array<string | undefined> {
  return splitBlobs(text(input), options).blobs.map((blob) => ("bytes" in blob ? hex(blob.bytes) : undefined));
}

describe("parseHex", () => {
  it("tolerates spaces, commas, colons, 0x and \\x prefixes, and case", () => {
    for (const input of ["0a05ff", "0a 05 ff", "0x0a, 0x05, 0xff", "0A:05:FF", "\\x0a\\x05\\xff", "0x0a05ff", "0xa, 0x5, 0xff", " 0a05\tff "]) {
      expect(hex(parseHex(input))).toBe("0a05ff");
    }
  });

  it("names the column of a bad token", () => {
    expect(() => parseHex("0a 0g")).toThrow(/not a hex digit 'g' in '0g' at column 4/);
    expect(() => parseHex("0a 5")).toThrow(/odd number of hex digits/);
    try {
      parseHex("zz");
    } catch (error) {
      expect(error).toBeInstanceOf(SdsError);
      expect((error as SdsError).code).toBe("E_INPUT_FORMAT");
    }
  });

  it("round-trips any bytes written in any tolerated style", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.constantFrom(" ", ", ", ":", ""), fc.boolean(), (bytes, separator, prefix) => {
        const written = [...bytes].map((byte) => `${prefix ? "0x" : ""}${byte.toString(16).padStart(2, "0")}`).join(separator);
        expect(hex(parseHex(written))).toBe(hex(bytes));
      }),
      { seed: seedFor("parseHex") },
    );
  });
});

describe("parseBase64", () => {
  it("accepts standard and url-safe alphabets, with or without padding", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const buffer = Buffer.from(bytes);
        expect(hex(parseBase64(buffer.toString("base64")))).toBe(hex(bytes));
        expect(hex(parseBase64(buffer.toString("base64url")))).toBe(hex(bytes));
        expect(hex(parseBase64(buffer.toString("base64").replace(/=+$/, "")))).toBe(hex(bytes));
      }),
      { seed: seedFor("parseBase64") },
    );
  });

  it("rejects what is not base64", () => {
    expect(() => parseBase64("ab$d")).toThrow(/character '\$' at position 3/);
    expect(() => parseBase64("abcde")).toThrow(/cannot encode whole bytes/);
    expect(() => parseBase64("ab=cd")).toThrow(SdsError);
  });
});

describe("splitBlobs", () => {
  it("tells raw, hex and base64 apart", () => {
    expect(isText(new Uint8Array([0x0a, 0x05, 0x61]))).toBe(false);
    expect(splitBlobs(new Uint8Array([0x0a, 0x05, 0x61, 0x6c, 0x69, 0x63, 0x65]), { format: "auto" }).format).toBe("raw");
    expect(splitBlobs(text("0a05616c696365\n"), { format: "auto" }).format).toBe("hex");
    expect(splitBlobs(text("CgVhbGljZQ==\n"), { format: "auto" }).format).toBe("base64");
    expect(splitBlobs(text("hello world, this is text"), { format: "auto" }).format).toBe("raw");
    // even-length hex is also base64: hex wins, base64 can be forced
    expect(blobsHex("deadbeef")).toEqual(["deadbeef"]);
    expect(blobsHex("deadbeef", { format: "base64" })).toEqual([Buffer.from("deadbeef", "base64").toString("hex")]);
  });

  it("makes one blob per line, numbering lines and skipping blank ones", () => {
    const parsed = splitBlobs(text("0a01\n\n0b02\r\nzz\n0c03"), { format: "auto" });
    expect(parsed.format).toBe("hex");
    expect(parsed.blobs.map((blob) => [blob.index, blob.line, "bytes" in blob ? hex(blob.bytes) : blob.error.code])).toEqual([
      [0, 1, "0a01"],
      [1, 3, "0b02"],
      [2, 4, "E_INPUT_FORMAT"],
      [3, 5, "0c03"],
    ]);
  });

  it("joins continuation lines and --single input", () => {
    expect(blobsHex("0x0a, 0x01,\n0x02, 0x03")).toEqual(["0a010203"]);
    expect(blobsHex("0a01 \\\n0203")).toEqual(["0a010203"]);
    expect(blobsHex("0a01\n0203", { format: "auto", single: true })).toEqual(["0a010203"]);
  });

  it("rejoins fixed-width wrapped dumps only when the joined blob is accepted and the lines are not", () => {
    const long = "ab".repeat(40);
    const wrapped = `${long.slice(0, 60)}\n${long.slice(60)}`;
    expect(blobsHex(wrapped, { format: "auto", accepts: (bytes) => bytes.length === 40 })).toEqual([long]);
    expect(blobsHex(wrapped, { format: "auto", accepts: () => true })).toHaveLength(2);
    expect(blobsHex(wrapped, { format: "auto" })).toHaveLength(2);
  });

  it("refuses empty input", () => {
    for (const input of ["", "  \n\n "]) {
      expect(() => splitBlobs(text(input), { format: "auto" })).toThrow(/empty input/);
    }
  });
});

/** Reference model of the tolerant hex grammar, written token by token with regexes. */
function hexModel(input: string): string | "error" {
  let out = "";
  for (const token of input.split(/[\s,;:]+/).filter((part) => part !== "")) {
    const pieces = token.split(/0[xX]|\\x/);
    for (const [position, piece] of pieces.entries()) {
      if (!/^[0-9a-fA-F]*$/.test(piece)) return "error";
      const digits = piece.length === 1 && position > 0 ? `0${piece}` : piece;
      if (digits.length % 2 !== 0) return "error";
      out += digits.toLowerCase();
    }
  }
  return out;
}

describe("parseHex fast path", () => {
  it("agrees with the token-by-token model on random mixes of digits, prefixes and separators", () => {
    const partArb = fc.constantFrom("0x", "0X", "\\x", "a", "0", "5", "ff", "0A", " ", ",", ";", ":", "\t", "g", "x", "\u00a0", "\u2003");
    fc.assert(
      fc.property(fc.array(partArb, { maxLength: 40 }).map((parts) => parts.join("")), (input) => {
        const expected = hexModel(input);
        let actual: string;
        try {
          actual = hex(parseHex(input));
        } catch (error) {
          expect(error).toBeInstanceOf(SdsError);
          actual = "error";
        }
        expect(actual).toBe(expected);
      }),
      { seed: seedFor("parseHex fast path"), numRuns: 2000 },
    );
  });

  it("returns a plain Uint8Array view of exactly the parsed bytes", () => {
    const bytes = parseHex("0a05ff");
    expect(bytes.length).toBe(3);
    expect(Array.from(bytes)).toEqual([0x0a, 0x05, 0xff]);
  });
});

function varint(value: number): number[] {
  const out: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

async function collect(stream: Uint8Array, cuts: number[], blobBytesMax = 1 << 20): Promise<Array<{ hex?: string; code?: string; offset: number }>> {
  async function* chunks(): AsyncGenerator<Uint8Array> {
    let at = 0;
    for (const cut of [...cuts.map((value) => value % (stream.length + 1))].sort((a, b) => a - b)) {
      yield stream.subarray(at, Math.max(at, cut));
      at = Math.max(at, cut);
    }
    yield stream.subarray(at);
  }
  const out: Array<{ hex?: string; code?: string; offset: number }> = [];
  for await (const blob of readDelimited(chunks(), blobBytesMax)) out.push("bytes" in blob ? { hex: hex(blob.bytes), offset: blob.offset } : { code: blob.error.code, offset: blob.offset });
  return out;
}

describe("readDelimited", () => {
  it("gives back the framed blobs whatever the chunk boundaries", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 10 }), async (blobs, cuts) => {
        const stream = Uint8Array.from(blobs.flatMap((blob) => [...varint(blob.length), ...blob]));
        const got = await collect(stream, cuts);
        let offset = 0;
        const expected = blobs.map((blob) => {
          const entry = { hex: hex(blob), offset };
          offset += varint(blob.length).length + blob.length;
          return entry;
        });
        expect(got).toEqual(expected);
      }),
      { seed: seedFor("readDelimited"), numRuns: 300 },
    );
  });

  it("reports a stream cut inside a frame, an oversized frame and a runaway prefix, then stops", async () => {
    expect(await collect(Uint8Array.from([2, 0xaa, 0xbb, 3, 0x01]), [2])).toEqual([{ hex: "aabb", offset: 0 }, { code: "E_INPUT_FORMAT", offset: 3 }]);
    expect(await collect(Uint8Array.from([1, 0xaa, 5, 1, 2, 3, 4, 5, 1, 0]), [], 4)).toEqual([{ hex: "aa", offset: 0 }, { code: "E_PAYLOAD_TOO_LARGE", offset: 2 }]);
    expect(await collect(Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), [])).toEqual([{ code: "E_INPUT_FORMAT", offset: 0 }]);
  });
});
