/**
 * Turns a byte stream (stdin or a file) into messages, lazily: an async generator pulls one
 * chunk at a time, so 100,000 piped lines never sit in memory at once and a slow consumer
 * applies back-pressure to the producer. Four framings, as websocat users expect:
 *
 * - `lines` (default): one message per `\n`-terminated line; a trailing `\r` is removed (CRLF
 *   input), a final line without a newline is still a message, and EMPTY LINES ARE SKIPPED
 *   (an SDS content message must carry bytes) and counted in {@link InputStats.emptySkipped}.
 * - `nul`: one message per `\0`-terminated record (`find -print0`, `-0`); no CR stripping;
 *   empty records skipped the same way.
 * - `binary`: the whole input is one message.
 * - `base64`: one base64 (standard or url-safe, padding optional) message per line.
 *
 * Every message is bounded by `messageBytesMax`; a longer one is `E_PAYLOAD_TOO_LARGE` naming
 * the record number, never silent growth.
 */
import { SdsError } from "../core/errors.js";

/** How input bytes are cut into messages. */
export type InputMode = "lines" | "nul" | "binary" | "base64";

/** Default bound on one message read from input: 16 MiB (segmentation splits it on the wire). */
export const INPUT_MESSAGE_BYTES_MAX_DEFAULT = 16 * 1024 * 1024;

/** Options of {@link readMessages}. */
export interface ReadMessagesOptions {
  mode: InputMode;
  /** Largest message accepted, in bytes (after base64 decoding). */
  messageBytesMax?: number;
}

/** Counters filled while reading; useful for the summary line. */
export interface InputStats {
  /** Messages yielded. */
  messages: number;
  /** Payload bytes yielded. */
  bytes: number;
  /** Empty records skipped (lines or NUL mode). */
  emptySkipped: number;
}

/** A fresh, zeroed {@link InputStats}. */
export function newInputStats(): InputStats {
  return { messages: 0, bytes: 0, emptySkipped: 0 };
}

const BASE64_PATTERN = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** Decodes one base64 line strictly; `E_INPUT_FORMAT` names the line on bad input. */
export function decodeBase64Line(text: string, lineNumber: number): Uint8Array {
  const trimmed = text.trim();
  if (!BASE64_PATTERN.test(trimmed) || trimmed.replace(/=+$/, "").length % 4 === 1) {
    throw new SdsError("E_INPUT_FORMAT", `line ${lineNumber} is not valid base64`, { line: lineNumber });
  }
  return new Uint8Array(Buffer.from(trimmed.replace(/-/g, "+").replace(/_/g, "/"), "base64"));
}

function tooLarge(record: number, limit: number): SdsError {
  return new SdsError("E_PAYLOAD_TOO_LARGE", `record ${record} is larger than ${limit} bytes (raise --max-bytes or use --binary with a file)`, { record, messageBytesMax: limit });
}

/**
 * Reads messages from `source` with the given framing. Yields copies (callers may keep them).
 * `stats`, when given, is updated as messages are yielded.
 */
export async function* readMessages(source: AsyncIterable<Uint8Array | string>, options: ReadMessagesOptions, stats: InputStats = newInputStats()): AsyncGenerator<Uint8Array> {
  const limit = options.messageBytesMax ?? INPUT_MESSAGE_BYTES_MAX_DEFAULT;
  if (options.mode === "binary") {
    const whole = await readAll(source, limit);
    if (whole.length === 0) return;
    stats.messages += 1;
    stats.bytes += whole.length;
    yield whole;
    return;
  }
  const separator = options.mode === "nul" ? 0x00 : 0x0a;
  // A base64 line may be 4/3 the size of the message it carries (plus a CR and padding).
  const recordLimit = options.mode === "base64" ? Math.ceil(limit / 3) * 4 + 4 : limit + 1;
  let record = 0;
  for await (const raw of framedRecords(source, separator, recordLimit, () => record + 1)) {
    record += 1;
    let bytes = raw;
    if (separator === 0x0a && bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, bytes.length - 1);
    if (options.mode === "base64") bytes = decodeBase64Line(Buffer.from(bytes).toString("latin1"), record);
    if (bytes.length === 0) {
      stats.emptySkipped += 1;
      continue;
    }
    if (bytes.length > limit) throw tooLarge(record, limit);
    stats.messages += 1;
    stats.bytes += bytes.length;
    yield bytes;
  }
}

/** Splits a stream at `separator`, yielding each record (copied) without the separator. */
async function* framedRecords(source: AsyncIterable<Uint8Array | string>, separator: number, recordBytesMax: number, nextRecord: () => number): AsyncGenerator<Uint8Array> {
  let carry: Buffer[] = [];
  let carryBytes = 0;
  for await (const chunk of source) {
    const buffer = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let start = 0;
    for (;;) {
      const end = buffer.indexOf(separator, start);
      if (end === -1) break;
      const piece = buffer.subarray(start, end);
      if (carryBytes + piece.length > recordBytesMax) throw tooLarge(nextRecord(), recordBytesMax);
      const record = carryBytes === 0 ? new Uint8Array(piece) : new Uint8Array(Buffer.concat([...carry, piece]));
      carry = [];
      carryBytes = 0;
      start = end + 1;
      yield record;
    }
    if (start < buffer.length) {
      const rest = buffer.subarray(start);
      carryBytes += rest.length;
      if (carryBytes > recordBytesMax) throw tooLarge(nextRecord(), recordBytesMax);
      carry.push(Buffer.from(rest));
    }
  }
  if (carryBytes > 0) yield new Uint8Array(Buffer.concat(carry));
}

/** Reads a whole stream into one buffer, refusing more than `bytesMax`. */
export async function readAll(source: AsyncIterable<Uint8Array | string>, bytesMax: number): Promise<Uint8Array> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of source) {
    const buffer = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : Buffer.from(chunk);
    total += buffer.length;
    if (total > bytesMax) throw tooLarge(1, bytesMax);
    parts.push(buffer);
  }
  return new Uint8Array(Buffer.concat(parts));
}
