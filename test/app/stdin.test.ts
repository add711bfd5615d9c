import { Readable } from "node:stream";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SdsError } from "../../src/core/errors.js";
import { decodeBase64Line, type InputMode, newInputStats, readMessages } from "../../src/app/stdin.js";

async function collect(chunks: (string | Uint8Array)[], mode: InputMode, messageBytesMax?: number) {
  const stats = newInputStats();
  const out: string[] = [];
  for await (const message of readMessages(Readable.from(chunks), { mode, messageBytesMax }, stats)) out.push(Buffer.from(message).toString("utf8"));
  return { out, stats };
}

describe("readMessages", () => {
  it("splits lines, strips CR, keeps a final line without newline, skips empty lines", async () => {
    const { out, stats } = await collect(["a\r\nb", "c\n\n", "\r\nlast"], "lines");
    expect(out).toEqual(["a", "bc", "last"]);
    expect(stats).toEqual({ messages: 3, bytes: 7, emptySkipped: 2 });
  });

  it("splits NUL records and keeps CR and newlines inside them", async () => {
    const { out } = await collect(["x\r\ny\0", "\0z"], "nul");
    expect(out).toEqual(["x\r\ny", "z"]);
  });

  it("reads the whole input as one message in binary mode", async () => {
    const { out } = await collect(["a\nb\0", "c"], "binary");
    expect(out).toEqual(["a\nb\0c"]);
  });

  it("decodes base64 lines (standard, url-safe, unpadded) and rejects bad ones with the line number", async () => {
    const { out } = await collect(["aGVsbG8=\n", "d29ybGQ\n", "Pz8_\n"], "base64");
    expect(out).toEqual(["hello", "world", "???"]);
    await expect(collect(["aGVsbG8=\n", "not base64!\n"], "base64")).rejects.toMatchObject({ code: "E_INPUT_FORMAT", details: { line: 2 } });
  });

  it("bounds a record, even one that spans many chunks", async () => {
    const chunks = Array.from({ length: 10 }, () => "x".repeat(10));
    await expect(collect(chunks, "lines", 50)).rejects.toBeInstanceOf(SdsError);
    await expect(collect(chunks, "binary", 50)).rejects.toMatchObject({ code: "E_PAYLOAD_TOO_LARGE" });
    const { out } = await collect(["x".repeat(50), "\n"], "lines", 50);
    expect(out[0]).toHaveLength(50);
  });

  it("is lazy: it yields the first line before the source ends", async () => {
    let produced = 0;
    async function* source() {
      for (let index = 0; index < 100_000; index += 1) {
        produced += 1;
        yield `${index}\n`;
      }
    }
    const iterator = readMessages(source(), { mode: "lines" });
    const first = await iterator.next();
    expect(Buffer.from(first.value as Uint8Array).toString()).toBe("0");
    expect(produced).toBeLessThan(10);
    await iterator.return(undefined);
  });

  it("round-trips any list of non-empty lines however the bytes are chunked", async () => {
    const seed = Number(process.env.SDS_SEED ?? Date.now() % 1_000_000);
    console.log(`stdin property seed ${seed}`);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.stringMatching(/^[^\n\r]{1,20}$/), { maxLength: 30 }), fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 10 }), async (lines, cuts) => {
        const text = lines.map((line) => `${line}\n`).join("");
        const bytes = Buffer.from(text);
        const chunks: Uint8Array[] = [];
        let at = 0;
        for (let index = 0; at < bytes.length; index += 1) {
          const size = cuts[index % cuts.length] as number;
          chunks.push(bytes.subarray(at, at + size));
          at += size;
        }
        const { out } = await collect(chunks, "lines");
        expect(out).toEqual(lines);
      }),
      { seed, numRuns: 100 },
    );
  });
});

describe("decodeBase64Line", () => {
  it("rejects a length that cannot be base64", () => {
    expect(() => decodeBase64Line("abcde", 7)).toThrow(/line 7/);
  });
});
