/**
 * The capture file format written by `sds listen --capture FILE` and read by `sds replay`
 * (documented in docs/commands/replay.md). NDJSON, UTF-8, one object per line:
 *
 * ```
 * {"format":"sds-capture","version":1,"startedAtMs":1763760000000,"source":"sds listen","channel":"demo"}
 * {"t":12,"topic":"/sds/1/demo/proto","hash":"9f…","envelope":"CgR0ZXN0…"}
 * ```
 *
 * The first line is the versioned header; each later line is one envelope as seen on the relay:
 * `t` = ms since `startedAtMs`, `topic` = content topic, `hash` = hex message hash (the retrieval
 * hint), `envelope` = base64 of the encoded envelope bytes (what `sds decode` reads:
 * `jq -r .envelope cap.ndjson | sds decode`). Unknown fields are ignored; versions other than 1
 * are refused, so old readers never misread a newer file.
 */
import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { SdsError } from "../core/errors.js";
import { readMessages } from "./stdin.js";

/** The `format` value of a capture header line. */
export const CAPTURE_FORMAT = "sds-capture";
/** The only capture version this build reads and writes. */
export const CAPTURE_VERSION = 1;
/** Longest capture line accepted, in bytes (a 16 MiB envelope in base64 plus fields). */
export const CAPTURE_LINE_BYTES_MAX = 24 * 1024 * 1024;

/** First line of a capture file. */
export interface CaptureHeader {
  format: typeof CAPTURE_FORMAT;
  version: typeof CAPTURE_VERSION;
  /** Wall-clock start of the capture, Unix ms; record times are relative to it. */
  startedAtMs: number;
  /** What wrote it (`sds listen`). */
  source?: string;
  /** Channel name, when captured by a channel-aware command. */
  channel?: string;
}

/** One captured envelope. */
export interface CaptureRecord {
  /** Ms since the header's `startedAtMs` (non-decreasing in files we write). */
  t: number;
  /** Content topic the envelope travelled on. */
  topic: string;
  /** Hex message hash (retrieval hint), as computed by the relay layer. */
  hash: string;
  /** The encoded envelope bytes. */
  envelope: Uint8Array;
}

/** Appends records to a capture file; the header is written on open. */
export class CaptureWriter {
  private readonly stream: WriteStream;
  private records = 0;

  private constructor(stream: WriteStream, readonly header: CaptureHeader) {
    this.stream = stream;
  }

  /** Creates (truncating) `path` and writes the header line. */
  static open(path: string, header: Omit<CaptureHeader, "format" | "version">): CaptureWriter {
    const stream = createWriteStream(path, { flags: "w" });
    const full: CaptureHeader = { format: CAPTURE_FORMAT, version: CAPTURE_VERSION, ...header };
    stream.write(`${JSON.stringify(full)}\n`);
    return new CaptureWriter(stream, full);
  }

  /** Records written so far. */
  get count(): number {
    return this.records;
  }

  /** Appends one envelope seen at wall-clock `atMs`. */
  write(record: { atMs: number; topic: string; hash: string; envelope: Uint8Array }): void {
    const line = { t: Math.max(0, record.atMs - this.header.startedAtMs), topic: record.topic, hash: record.hash, envelope: Buffer.from(record.envelope).toString("base64") };
    this.records += 1;
    this.stream.write(`${JSON.stringify(line)}\n`);
  }

  /** Flushes and closes the file. */
  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.stream.end((error?: Error | null) => (error ? reject(error) : resolve()));
    });
  }
}

function bad(line: number, why: string): SdsError {
  return new SdsError("E_INPUT_FORMAT", `capture line ${line}: ${why}`, { line });
}

/** Parses and checks the header line. */
export function parseCaptureHeader(text: string): CaptureHeader {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw bad(1, "not JSON (is this an sds capture file?)");
  }
  const header = value as Partial<CaptureHeader>;
  if (typeof value !== "object" || value === null || header.format !== CAPTURE_FORMAT) throw bad(1, `missing header {"format":"${CAPTURE_FORMAT}"}`);
  if (header.version !== CAPTURE_VERSION) throw bad(1, `capture version ${String(header.version)} is not supported (this build reads version ${CAPTURE_VERSION})`);
  if (typeof header.startedAtMs !== "number" || !Number.isFinite(header.startedAtMs)) throw bad(1, "startedAtMs must be a number");
  return header as CaptureHeader;
}

/** Parses one record line (`lineNumber` counts from 1, the header being line 1). */
export function parseCaptureRecord(text: string, lineNumber: number): CaptureRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw bad(lineNumber, "not JSON");
  }
  const record = value as { t?: unknown; topic?: unknown; hash?: unknown; envelope?: unknown };
  if (typeof value !== "object" || value === null) throw bad(lineNumber, "not an object");
  if (typeof record.t !== "number" || !Number.isFinite(record.t) || record.t < 0) throw bad(lineNumber, "t must be a non-negative number");
  if (typeof record.topic !== "string" || record.topic === "") throw bad(lineNumber, "topic must be a non-empty string");
  if (typeof record.hash !== "string" || !/^[0-9a-f]*$/i.test(record.hash)) throw bad(lineNumber, "hash must be hex");
  if (typeof record.envelope !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(record.envelope)) throw bad(lineNumber, "envelope must be base64");
  return { t: record.t, topic: record.topic, hash: record.hash.toLowerCase(), envelope: new Uint8Array(Buffer.from(record.envelope, "base64")) };
}

/** A capture being read: the header, then records streamed lazily. */
export interface CaptureReader {
  header: CaptureHeader;
  records: AsyncGenerator<CaptureRecord>;
}

/** Opens a capture from a file path or any byte stream. Throws `E_INPUT_FORMAT` on a bad header. */
export async function openCapture(source: string | AsyncIterable<Uint8Array | string>): Promise<CaptureReader> {
  const stream = typeof source === "string" ? createReadStream(source) : source;
  if (typeof source === "string") {
    await new Promise<void>((resolve, reject) => {
      (stream as ReturnType<typeof createReadStream>).once("open", () => resolve()).once("error", (error: NodeJS.ErrnoException) => reject(error.code === "ENOENT" ? new SdsError("E_INPUT_INVALID", `capture file not found: ${source}`, { path: source }) : error));
    });
  }
  const lines = readMessages(stream, { mode: "lines", messageBytesMax: CAPTURE_LINE_BYTES_MAX });
  const first = await lines.next();
  if (first.done) throw bad(1, "empty file");
  const header = parseCaptureHeader(Buffer.from(first.value).toString("utf8"));
  async function* records(): AsyncGenerator<CaptureRecord> {
    let lineNumber = 1;
    for await (const line of lines) {
      lineNumber += 1;
      yield parseCaptureRecord(Buffer.from(line).toString("utf8"), lineNumber);
    }
  }
  return { header, records: records() };
}
