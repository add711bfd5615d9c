/**
 * Streamed text input must give the same blobs as reading the whole input with splitBlobs
 * (forced hex / base64, not --single): same indices, lines, bytes and errors, whatever the
 * chunk boundaries, including fixed-width wrapped dumps that are rejoined. Seeded (SDS_SEED).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { splitBlobs, type InputBlob } from "../../src/cli/input.js";
import { streamTextBlobs } from "../../src/cli/input-stream.js";
import { SdsError } from "../../src/core/errors.js";
import { seedFor } from "../core/protocol/wire/arbitraries.js";

type Shown = Array<{ index: number; line?: number; hex?: string; error?: string }> | { thrown: string };

const show = (blobs: InputBlob[]): Shown => blobs.map((blob) => ({ index: blob.index, line: blob.line, ...("bytes" in blob ? { hex: Buffer.from(blob.bytes).toString("hex") } : { error: `${blob.error.code} ${blob.error.message}` }) }));

function whole(text: string, format: "hex" | "base64", accepts: (bytes: Uint8Array) => boolean): Shown {
  try {
    return show(splitBlobs(Buffer.from(text, "latin1"), { format, accepts }).blobs);
  } catch (error) {
    if (error instanceof SdsError) return { thrown: error.code };
    throw error;
  }
}

async function streamed(text: string, cuts: number[], format: "hex" | "base64", accepts: (bytes: Uint8Array) => boolean): Promise<Shown> {
  const bytes = Buffer.from(text, "latin1");
  async function* chunks(): AsyncGenerator<Uint8Array> {
    let at = 0;
    for (const cut of cuts.map((value) => value % (bytes.length + 1)).sort((a, b) => a - b)) {
      yield bytes.subarray(at, Math.max(at, cut));
      at = Math.max(at, cut);
    }
    yield bytes.subarray(at);
  }
  const out: InputBlob[] = [];
  try {
    for await (const blob of streamTextBlobs(chunks(), { format, accepts, inputBytesMax: 1 << 20 })) out.push(blob);
  } catch (error) {
    if (error instanceof SdsError) return { thrown: error.code };
    throw error;
  }
  return show(out);
}

/** Stand-in for "decodes as a message": accepts blobs whose length is a multiple of 5. */
const accepts = (bytes: Uint8Array): boolean => bytes.length % 5 === 0;

describe("streamTextBlobs", () => {
  it("gives the blobs splitBlobs gives, whatever the chunk boundaries", async () => {
    const hexLine = fc.oneof(
      fc.uint8Array({ minLength: 0, maxLength: 24 }).map((bytes) => Buffer.from(bytes).toString("hex")),
      fc.constantFrom("", "  ", "0x0a, 0x05,", "zz", "abc", "0a\\", "\r", "00112233445566778899aabbccddeeff"),
    );
    const textArb = fc.oneof(
      fc.array(hexLine, { maxLength: 12 }).map((lines) => lines.join("\n")),
      // wrapped dumps: one long hex string cut at a fixed width
      fc.tuple(fc.uint8Array({ minLength: 8, maxLength: 80 }), fc.integer({ min: 8, max: 40 }), fc.boolean()).map(([bytes, width, newline]) => {
        const hex = Buffer.from(bytes).toString("hex");
        const lines = hex.match(new RegExp(`.{1,${width * 2}}`, "g")) as string[];
        return lines.join("\n") + (newline ? "\n" : "");
      }),
    );
    await fc.assert(
      fc.asyncProperty(textArb, fc.array(fc.nat(), { maxLength: 8 }), fc.constantFrom("hex" as const, "base64" as const), async (text, cuts, format) => {
        expect(await streamed(text, cuts, format, accepts)).toEqual(whole(text, format, accepts));
      }),
      { seed: seedFor("streamTextBlobs"), numRuns: 1500 },
    );
  });

  it("stops with E_PAYLOAD_TOO_LARGE once the input passes the bound, after the blobs before it", async () => {
    async function* chunks(): AsyncGenerator<Uint8Array> {
      yield Buffer.from("0a05\n");
      yield Buffer.from("0b06\n0c07\n");
    }
    const out: string[] = [];
    await expect(
      (async () => {
        for await (const blob of streamTextBlobs(chunks(), { format: "hex", inputBytesMax: 8 })) out.push("bytes" in blob ? Buffer.from(blob.bytes).toString("hex") : "error");
      })(),
    ).rejects.toMatchObject({ code: "E_PAYLOAD_TOO_LARGE" });
    expect(out).toEqual(["0a05"]);
  });
});
