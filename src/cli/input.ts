/**
 * Blob input for `sds decode`: turns what a user pastes or pipes into binary blobs. Raw
 * binary, hex (spaces, commas, colons, `0x`/`\x` prefixes tolerated) and base64 (standard or
 * url-safe, padding optional) are told apart automatically, or forced. Text input is one blob
 * per line; a line ending in `,` or `\` continues on the next (C-array dumps), and a dump
 * wrapped at a fixed width (`xxd -p`) can be rejoined by the caller (see {@link splitBlobs}).
 * Each blob remembers its 1-based line so errors point at it. Pure: no I/O here.
 */
import { SdsError } from "../core/errors.js";

/** How input text encodes bytes. */
export type InputFormat = "raw" | "hex" | "base64";

/** One blob of input, or the reason it could not be read. */
export type InputBlob =
  | { index: number; line?: number; format: InputFormat; bytes: Uint8Array }
  | { index: number; line?: number; format: InputFormat; error: SdsError };

/** The blobs found in an input and how the format was chosen. */
export interface ParsedInput {
  format: InputFormat;
  /** Why this format was chosen (`forced`, or the auto-detection rule). */
  reason: string;
  blobs: InputBlob[];
}

/** Options of {@link splitBlobs}. */
export interface SplitOptions {
  format: InputFormat | "auto";
  /** Treat the whole input as one blob (newlines are just separators). */
  single?: boolean;
  /**
   * Decides whether bytes look like a whole blob (e.g. decode as an SDS message). Used to
   * rejoin fixed-width wrapped dumps: lines of equal width are joined when the joined bytes
   * are accepted and the separate lines are not all accepted.
   */
  accepts?: (bytes: Uint8Array) => boolean;
}

const BASE64_LINE = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** True when every byte is a space, tab, CR or LF. */
function onlyWhitespace(bytes: Uint8Array): boolean {
  for (let index = 0; index < bytes.length; index++) {
    const byte = bytes[index] as number;
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d) return false;
  }
  return true;
}

/** True when every byte is printable ASCII or tab / CR / LF: the input is text. */
export function isText(bytes: Uint8Array): boolean {
  for (let index = 0; index < bytes.length; index++) {
    const byte = bytes[index] as number;
    if (byte === 0x09 || byte === 0x0a || byte === 0x0d) continue;
    if (byte < 0x20 || byte > 0x7e) return false;
  }
  return true;
}

/** Whether a UTF-16 code unit is a hex digit. */
function isHexDigit(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x61 && code <= 0x66) || (code >= 0x41 && code <= 0x46);
}

/** Whether a code unit separates hex tokens: whitespace, `,`, `;`, `:`. */
function isHexSeparator(code: number): boolean {
  if (code === 0x20 || code === 0x2c || code === 0x3b || code === 0x3a || (code >= 0x09 && code <= 0x0d) || code === 0xa0) return true;
  return code > 0xff && /\s/.test(String.fromCharCode(code));
}

/** Length of the `0x` / `0X` / `\x` prefix at `at` (2), or 0 when there is none. */
function prefixAt(text: string, at: number): number {
  const first = text.charCodeAt(at);
  const second = text.charCodeAt(at + 1);
  if (first === 0x30 && (second === 0x78 || second === 0x58)) return 2;
  if (first === 0x5c && second === 0x78) return 2;
  return 0;
}

/**
 * The bare hex digits of a well-formed hex blob (prefixes and separators dropped, prefixed
 * single digits padded), found in one pass without regexes; `undefined` when the text has a
 * problem, so that {@link parseHex} can name it.
 */
function cleanHex(text: string): string | undefined {
  const length = text.length;
  let digits = "";
  let at = 0;
  while (at < length) {
    if (isHexSeparator(text.charCodeAt(at))) {
      at += 1;
      continue;
    }
    // one token: an optional bare run, then runs that each start with a prefix
    let prefixed = false;
    for (;;) {
      const prefix = prefixAt(text, at);
      if (prefix > 0) {
        prefixed = true;
        at += prefix;
      } else if (prefixed) return undefined;
      const start = at;
      while (at < length) {
        const code = text.charCodeAt(at);
        if (!isHexDigit(code) || (code === 0x30 && prefixAt(text, at) > 0)) break;
        at += 1;
      }
      const run = at - start;
      if (run === 1 && prefixed) digits += `0${text[start] as string}`;
      else if (run % 2 !== 0) return undefined;
      else if (run > 0) digits += start === 0 && at === length ? text : text.slice(start, at);
      if (at >= length || isHexSeparator(text.charCodeAt(at))) break;
      if (prefixAt(text, at) === 0) return undefined;
    }
  }
  return digits;
}

/**
 * Parses one hex blob: tokens separated by whitespace, `,`, `;` or `:`, each with an
 * optional `0x` prefix, or `\x`-escaped bytes (`\x0a\x05`); a one-digit prefixed byte is
 * padded (`0x5` = 05), other runs must have an even number of digits. Throws
 * `E_INPUT_FORMAT` naming the column of the bad token. Well-formed text is cleaned in one
 * pass and converted by `Buffer.from(digits, "hex")`; only a bad blob takes the slower path
 * that finds the offending token.
 */
export function parseHex(text: string): Uint8Array {
  if (text.length % 2 === 0) {
    // Node stops at the first pair that is not two hex digits: a full-length result means bare, valid hex
    const direct = Buffer.from(text, "hex");
    if (direct.length * 2 === text.length) return new Uint8Array(direct.buffer, direct.byteOffset, direct.length);
  }
  const digits = cleanHex(text);
  if (digits !== undefined) {
    const buffer = Buffer.from(digits, "hex");
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.length);
  }
  return parseHexReportingErrors(text);
}

/** The token-by-token hex parser: slower, but names the column of the first bad token. */
function parseHexReportingErrors(text: string): Uint8Array {
  const out: number[] = [];
  for (const match of text.matchAll(/[^\s,;:]+/g)) {
    const column = (match.index ?? 0) + 1;
    const token = match[0];
    // `0x0a0x05` and `\x0a\x05`: every prefix starts a new byte run
    const pieces = token.split(/0[xX]|\\x/);
    for (const [position, piece] of pieces.entries()) {
      if (piece === "" && position === 0) continue;
      const prefixed = position > 0;
      const bad = piece.search(/[^0-9a-fA-F]/);
      if (bad >= 0) throw new SdsError("E_INPUT_FORMAT", `not a hex digit '${piece[bad]}' in '${token}' at column ${column}`, { column });
      const digits = piece.length === 1 && prefixed ? `0${piece}` : piece;
      if (digits.length % 2 !== 0) throw new SdsError("E_INPUT_FORMAT", `odd number of hex digits in '${token}' at column ${column}`, { column });
      for (let at = 0; at < digits.length; at += 2) out.push(Number.parseInt(digits.slice(at, at + 2), 16));
    }
  }
  return Uint8Array.from(out);
}

/** Whether a line reads as hex: digits once prefixes and separators are removed; odd bare runs are not hex. */
function isHexLine(text: string): boolean {
  let digitCount = 0;
  let removed = false;
  for (let at = 0; at < text.length; ) {
    const prefix = prefixAt(text, at);
    if (prefix > 0) {
      removed = true;
      at += prefix;
      continue;
    }
    const code = text.charCodeAt(at);
    if (isHexSeparator(code)) removed = true;
    else if (isHexDigit(code)) digitCount += 1;
    else return false;
    at += 1;
  }
  return digitCount > 0 && (digitCount % 2 === 0 || removed);
}

/** Parses one base64 blob (standard or url-safe alphabet, padding optional, whitespace ignored). */
export function parseBase64(text: string): Uint8Array {
  const compact = text.replace(/\s+/g, "");
  if (!BASE64_LINE.test(compact)) {
    const bad = compact.search(/[^A-Za-z0-9+/_=-]/);
    const where = bad >= 0 ? `character '${compact[bad]}' at position ${bad + 1}` : "misplaced padding";
    throw new SdsError("E_INPUT_FORMAT", `not base64: ${where}`, { position: bad + 1 });
  }
  const body = compact.replace(/=+$/, "");
  if (body.length % 4 === 1) throw new SdsError("E_INPUT_FORMAT", `not base64: ${body.length} characters cannot encode whole bytes`, {});
  return new Uint8Array(Buffer.from(body.replace(/-/g, "+").replace(/_/g, "/"), "base64"));
}

/** One logical line of text input and the 1-based number of its first physical line. */
export interface Line {
  text: string;
  line: number;
}

/**
 * Joins physical lines into logical ones as they arrive: blank lines are skipped, a line
 * ending in `,` or `\` continues on the next. Shared by whole-input and streamed reading.
 */
export class LineJoiner {
  private pending: Line | undefined;

  /** Feeds physical line `lineNumber` (1-based); returns the logical line it completes, if any. */
  add(raw: string, lineNumber: number): Line | undefined {
    const trimmed = raw.trim();
    const pending = this.pending;
    if (trimmed === "" && pending === undefined) return undefined;
    const current: Line = pending ? { text: `${pending.text} ${trimmed}`, line: pending.line } : { text: trimmed, line: lineNumber };
    const last = trimmed.charCodeAt(trimmed.length - 1);
    if (last === 0x2c || last === 0x5c) {
      this.pending = { text: last === 0x5c ? current.text.slice(0, -1) : current.text, line: current.line };
      return undefined;
    }
    this.pending = undefined;
    return current.text !== "" ? current : undefined;
  }

  /** The continued line still open at the end of the input, if it has any text. */
  finish(): Line | undefined {
    const pending = this.pending;
    this.pending = undefined;
    return pending && pending.text.trim() !== "" ? pending : undefined;
  }
}

/** Non-empty lines with their 1-based numbers, continuation lines (`,` or `\` at the end) joined. */
function logicalLines(text: string): Line[] {
  const lines: Line[] = [];
  const joiner = new LineJoiner();
  let lineNumber = 0;
  for (let start = 0; start <= text.length; ) {
    const newline = text.indexOf("\n", start);
    const end = newline < 0 ? text.length : newline;
    lineNumber += 1;
    const line = joiner.add(text.slice(start, end), lineNumber);
    if (line) lines.push(line);
    start = end + 1;
  }
  const last = joiner.finish();
  if (last) lines.push(last);
  return lines;
}

/**
 * Hex when at least half the lines read as hex, else base64 when at least half read as
 * base64, else raw: one bad line must not flip the format of all the others (it becomes a
 * per-blob error instead). Hex wins ties because even-length hex is also valid base64.
 */
function detectTextFormat(lines: Line[]): { format: InputFormat; reason: string } {
  const hexLines = lines.filter((line) => isHexLine(line.text)).length;
  if (hexLines * 2 >= lines.length && hexLines > 0) {
    return { format: "hex", reason: hexLines === lines.length ? "every line is hex digits (spaces, commas, 0x allowed)" : `${hexLines} of ${lines.length} lines are hex` };
  }
  const base64Lines = lines.filter((line) => BASE64_LINE.test(line.text.replace(/\s+/g, ""))).length;
  if (base64Lines * 2 >= lines.length && base64Lines > 0) {
    return { format: "base64", reason: base64Lines === lines.length ? "every line is base64" : `${base64Lines} of ${lines.length} lines are base64` };
  }
  return { format: "raw", reason: "text that is neither hex nor base64: read as raw bytes" };
}

function parseLine(format: InputFormat, text: string): Uint8Array {
  return format === "hex" ? parseHex(text) : parseBase64(text);
}

/** Lines of one fixed width (all but the last, which may be shorter): a wrapped dump. */
function looksWrapped(lines: Line[]): boolean {
  if (lines.length < 2) return false;
  const width = (lines[0] as Line).text.length;
  if (width < 16) return false;
  return lines.slice(0, -1).every((line) => line.text.length === width) && (lines[lines.length - 1] as Line).text.length <= width;
}

/** Blobs of `lines`, numbered from `firstIndex`; a line that does not parse is an error blob. */
export function toBlobs(format: InputFormat, lines: Line[], firstIndex = 0): InputBlob[] {
  return lines.map((line, position) => {
    const index = firstIndex + position;
    try {
      return { index, line: line.line, format, bytes: parseLine(format, line.text) };
    } catch (error) {
      if (error instanceof SdsError) return { index, line: line.line, format, error };
      throw error;
    }
  });
}

/**
 * Splits input into blobs. Raw input (binary, or text that is neither hex nor base64) is one
 * blob. Hex / base64 text is one blob per logical line unless `single`, or unless the lines
 * look like a fixed-width wrapped dump and `accepts` prefers the joined bytes. Empty input
 * (or only whitespace in a text format) is `E_INPUT_INVALID`.
 */
export function splitBlobs(input: Uint8Array, options: SplitOptions): ParsedInput {
  const forced = options.format !== "auto";
  if (input.length === 0 || (options.format !== "raw" && onlyWhitespace(input))) {
    throw new SdsError("E_INPUT_INVALID", "empty input: nothing to decode", {});
  }
  // a forced format needs no text check: only auto-detection looks for binary bytes
  if (options.format === "raw" || (!forced && !isText(input))) {
    return { format: "raw", reason: forced ? "forced" : "binary input", blobs: [{ index: 0, format: "raw", bytes: input }] };
  }
  const text = Buffer.from(input).toString("latin1");
  const lines = logicalLines(text);
  if (lines.length === 0) throw new SdsError("E_INPUT_INVALID", "no blob in the input: only separators", {});
  const detected = forced ? { format: options.format as InputFormat, reason: "forced" } : detectTextFormat(lines);
  if (detected.format === "raw") return { ...detected, blobs: [{ index: 0, format: "raw", bytes: input }] };
  const joined: Line = { text: lines.map((line) => line.text).join(" "), line: (lines[0] as Line).line };
  if (options.single || lines.length === 1) return { ...detected, blobs: toBlobs(detected.format, [joined]) };
  const rejoined = rejoinWrapped(detected.format, lines, options.accepts);
  if (rejoined) return { format: detected.format, reason: `${detected.reason}; fixed-width lines rejoined into one blob`, blobs: [rejoined] };
  return { ...detected, blobs: toBlobs(detected.format, lines) };
}

/**
 * The one blob of a fixed-width wrapped dump (`xxd -p`): when `lines` look wrapped, the
 * joined bytes are accepted and the separate lines are not all accepted. Else `undefined`.
 */
export function rejoinWrapped(format: InputFormat, lines: Line[], accepts: ((bytes: Uint8Array) => boolean) | undefined): InputBlob | undefined {
  if (!accepts || !looksWrapped(lines)) return undefined;
  const joined: Line = { text: lines.map((line) => line.text).join(" "), line: (lines[0] as Line).line };
  const whole = toBlobs(format, [joined])[0] as InputBlob;
  const allLinesAccepted = toBlobs(format, lines).every((blob) => "bytes" in blob && accepts(blob.bytes));
  return "bytes" in whole && !allLinesAccepted && accepts(whole.bytes) ? whole : undefined;
}

/**
 * Cuts a stream of length-delimited blobs — each prefixed by its length as a protobuf varint,
 * as protobuf's `writeDelimitedTo` writes them — into blobs as the chunks arrive, so memory
 * stays bounded by the largest blob plus one chunk however long the stream is. A frame
 * longer than `blobBytesMax` (`E_PAYLOAD_TOO_LARGE`), a length prefix over 5 bytes
 * (`E_INPUT_FORMAT`) or a stream that ends inside a frame (`E_INPUT_FORMAT`) yields one error
 * blob and ends the stream: framing is lost after it. Blob `offset`s are the absolute byte
 * offsets of their length prefixes.
 */
export async function* readDelimited(chunks: AsyncIterable<Uint8Array | string>, blobBytesMax: number): AsyncGenerator<InputBlob & { offset: number }> {
  let pending: Buffer = Buffer.alloc(0);
  let consumed = 0; // absolute offset of pending[0]
  let index = 0;
  const failed = (offset: number, error: SdsError) => ({ index, offset, format: "raw" as const, error });
  for await (const chunk of chunks) {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk, "latin1") : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    pending = pending.length === 0 ? bytes : Buffer.concat([pending, bytes]);
    let at = 0;
    for (;;) {
      const frame = readFrameLength(pending, at);
      if (frame === undefined) break;
      if (frame === "bad") {
        yield failed(consumed + at, new SdsError("E_INPUT_FORMAT", `length prefix at byte ${consumed + at} is longer than 5 bytes: not a length-delimited stream`, { offset: consumed + at }));
        return;
      }
      if (frame.length > blobBytesMax) {
        yield failed(consumed + at, new SdsError("E_PAYLOAD_TOO_LARGE", `blob at byte ${consumed + at} is ${frame.length} bytes, more than --max-bytes ${blobBytesMax}`, { offset: consumed + at, maxBytes: blobBytesMax }));
        return;
      }
      const end = at + frame.prefixBytes + frame.length;
      if (end > pending.length) break;
      const body = pending.subarray(at + frame.prefixBytes, end);
      yield { index, offset: consumed + at, format: "raw", bytes: new Uint8Array(body.buffer, body.byteOffset, body.length) };
      index += 1;
      at = end;
    }
    pending = pending.subarray(at);
    consumed += at;
  }
  if (pending.length > 0) {
    yield failed(consumed, new SdsError("E_INPUT_FORMAT", `stream ends inside the blob at byte ${consumed} (${pending.length} bytes left over)`, { offset: consumed }));
  }
}

/** The varint length prefix at `at`: its value and size, `undefined` when incomplete, `bad` past 5 bytes. */
function readFrameLength(bytes: Uint8Array, at: number): { length: number; prefixBytes: number } | "bad" | undefined {
  let length = 0;
  for (let position = 0; position < 5; position++) {
    if (at + position >= bytes.length) return undefined;
    const byte = bytes[at + position] as number;
    length += (byte & 0x7f) * 2 ** (7 * position);
    if (byte < 0x80) return { length, prefixBytes: position + 1 };
  }
  return "bad";
}
