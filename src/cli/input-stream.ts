/**
 * Streamed text input for `sds decode` with a forced hex or base64 format: chunks are cut into
 * logical lines and each becomes a blob as soon as it is complete, so a capture of any length
 * is decoded in bounded memory. The one whole-input rule, rejoining a fixed-width wrapped dump
 * (`xxd -p`), is kept: lines are held back only while they could still be such a dump (all of
 * one width ≥ 16, then at most one shorter last line); the first line that rules it out
 * releases them. Same blobs, numbers and errors as {@link splitBlobs}. No I/O here.
 */
import { SdsError } from "../core/errors.js";
import { type InputBlob, type Line, LineJoiner, rejoinWrapped, toBlobs } from "./input.js";

/** Narrowest line that can belong to a wrapped dump, in characters (as in splitBlobs). */
const WRAPPED_WIDTH_MIN = 16;

/** Options of {@link streamTextBlobs}. */
export interface StreamTextOptions {
  format: "hex" | "base64";
  /** Decides whether bytes look like a whole blob (see SplitOptions.accepts). */
  accepts?: (bytes: Uint8Array) => boolean;
  /** Most input bytes read in all; past it the stream ends with `E_PAYLOAD_TOO_LARGE`. */
  inputBytesMax: number;
}

/**
 * Blobs of a text stream, one per logical line, as they arrive. Throws `E_INPUT_INVALID` at
 * the end when there was no line at all, `E_PAYLOAD_TOO_LARGE` once more than
 * `inputBytesMax` bytes have come (the blobs before it have been yielded).
 */
export async function* streamTextBlobs(chunks: AsyncIterable<Uint8Array | string>, options: StreamTextOptions): AsyncGenerator<InputBlob> {
  const joiner = new LineJoiner();
  let held: Line[] = [];
  let holding = true;
  let index = 0;
  let lineNumber = 0;
  let carry = "";
  let total = 0;
  const release = function* (lines: Line[]): Generator<InputBlob> {
    for (const blob of toBlobs(options.format, lines, index)) yield blob;
    index += lines.length;
  };
  const take = function* (line: Line): Generator<InputBlob> {
    if (!holding) {
      yield* release([line]);
      return;
    }
    held.push(line);
    if (!couldBeWrapped(held)) {
      holding = false;
      const lines = held;
      held = [];
      yield* release(lines);
    }
  };
  for await (const chunk of chunks) {
    total += chunk.length;
    if (total > options.inputBytesMax) throw new SdsError("E_PAYLOAD_TOO_LARGE", `input is larger than --max-bytes ${options.inputBytesMax}; raise --max-bytes to decode it`, { maxBytes: options.inputBytesMax });
    const text = carry + (typeof chunk === "string" ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length).toString("latin1"));
    let start = 0;
    for (let newline = text.indexOf("\n"); newline >= 0; newline = text.indexOf("\n", start)) {
      lineNumber += 1;
      const line = joiner.add(text.slice(start, newline), lineNumber);
      start = newline + 1;
      if (line) yield* take(line);
    }
    carry = text.slice(start);
  }
  lineNumber += 1;
  const last = joiner.add(carry, lineNumber);
  if (last) yield* take(last);
  const open = joiner.finish();
  if (open) yield* take(open);
  if (index === 0 && held.length === 0) throw new SdsError("E_INPUT_INVALID", "no blob in the input: only separators", {});
  if (held.length > 0) {
    const whole = held.length > 1 ? rejoinWrapped(options.format, held, options.accepts) : undefined;
    yield* release(whole ? [] : held);
    if (whole) yield whole;
  }
}

/** Whether `lines` can still be the start of a wrapped dump: one width ≥ 16, then at most one shorter line. */
function couldBeWrapped(lines: Line[]): boolean {
  const width = (lines[0] as Line).text.length;
  if (width < WRAPPED_WIDTH_MIN) return false;
  for (let position = 1; position < lines.length; position++) {
    const length = (lines[position] as Line).text.length;
    if (length === width) continue;
    if (length > width || position !== lines.length - 1) return false;
  }
  return true;
}
