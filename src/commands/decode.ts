/**
 * `sds decode [FILE|-]`: decode captured wire blobs — SDS messages of either dialect, bloom
 * filters, Waku envelopes, segments, or any protobuf with `--raw`. Input from a file, stdin,
 * `--hex` or `--b64`; raw / hex / base64 detected; one blob or many (one per line → NDJSON).
 * A tree with byte offsets on a terminal, JSON otherwise. A bad blob is reported (stderr and
 * an `error` record) and the rest still decoded; exit 3 if any failed. Contract:
 * docs/commands/decode.md.
 */
import { once } from "node:events";
import { type FileHandle, open } from "node:fs/promises";
import * as Args from "@oclif/core/args";
import * as Flags from "@oclif/core/flags";
import { SdsError } from "../core/errors.js";
import { decodeMessage } from "../core/protocol/wire/index.js";
import { BaseCommand, ExitWith, jsonReplacer } from "../cli/base-command.js";
import { decodeBlob, type BlobDecodeOptions, type BlobResult, type DecodeTarget } from "../cli/decode-blob.js";
import { messageRecordTail } from "../cli/decode-json.js";
import { EXIT } from "../cli/exit-codes.js";
import { type InputBlob, type InputFormat, readDelimited, splitBlobs } from "../cli/input.js";
import { streamTextBlobs } from "../cli/input-stream.js";
import { renderTree } from "../cli/tree.js";

/** Default bound on the whole input (on each blob with --delimited), in bytes (64 MiB). */
export const DECODE_INPUT_BYTES_MAX_DEFAULT = 64 * 1024 * 1024;

/** Output is gathered into writes of about this many characters (one write per blob was a syscall each). */
const OUTPUT_CHUNK_CHARS = 256 * 1024;

/** Chunk size when streaming a --delimited file, in bytes. */
const DELIMITED_CHUNK_BYTES = 1024 * 1024;

export default class Decode extends BaseCommand<typeof Decode> {
  static override summary = "Decode SDS messages, bloom filters, envelopes and segments (hex, base64 or binary).";
  static override description = `Reads one blob or many (one per line of hex or base64) from FILE, stdin, --hex or --b64 and decodes each.
Raw binary, hex (spaces, commas, 0x tolerated) and base64 are detected; the SDS wire dialect (spec or nim) too.
On a terminal each blob is shown as a tree with byte offsets; otherwise as JSON, one line per blob (NDJSON).
A blob that fails is reported on stderr with its line and byte offset, the others are still decoded; the exit status is then 3.`;

  static override examples = [
    "<%= config.bin %> decode --hex 0a05616c696365120265311a0a6d792d6368616e6e656ca2010101",
    "<%= config.bin %> decode capture.bin",
    "jq -r .envelope capture.ndjson | <%= config.bin %> decode --json",
    "<%= config.bin %> decode --raw --hex '0x08, 0x96, 0x01'",
    "<%= config.bin %> decode --delimited --json < capture.delimited",
  ];

  static override enableJsonFlag = true;

  static override args = {
    file: Args.string({ description: "File to read; `-` or absent for stdin.", required: false, ignoreStdin: true }),
  };

  static override flags = {
    hex: Flags.string({ description: "Decode this hex string (one blob) instead of reading input.", exclusive: ["b64"] }),
    b64: Flags.string({ description: "Decode this base64 string (one blob) instead of reading input.", exclusive: ["hex"] }),
    "input-format": Flags.string({ description: "How the input encodes bytes.", options: ["auto", "raw", "hex", "base64"], default: "auto" }),
    single: Flags.boolean({ description: "Treat the whole hex/base64 input as one blob, even across lines.", exclusive: ["delimited"] }),
    delimited: Flags.boolean({
      description: "Binary input is a stream of blobs, each prefixed by its length as a varint (protobuf writeDelimitedTo); read in chunks, --max-bytes bounds each blob.",
      exclusive: ["hex", "b64"],
    }),
    dialect: Flags.string({ description: "SDS wire dialect.", options: ["auto", "spec", "nim"], default: "auto" }),
    what: Flags.string({ description: "What the blobs are.", options: ["auto", "message", "bloom", "envelope", "segment"], default: "auto" }),
    raw: Flags.boolean({ description: "Schema-less protobuf dump (any protobuf)." }),
    tree: Flags.boolean({ description: "Print the tree even when stdout is not a terminal.", exclusive: ["json"] }),
    full: Flags.boolean({ description: "Do not shorten long values in the tree." }),
    "max-depth": Flags.integer({ description: "--raw: deepest nesting tried as a message.", default: 8, min: 0, max: 64 }),
    "max-bytes": Flags.integer({ description: "Largest input accepted, in bytes.", default: DECODE_INPUT_BYTES_MAX_DEFAULT, min: 1 }),
    "bloom-capacity": Flags.integer({ description: "spec bloom filters: the capacity they were built with (their bytes carry none).", min: 1 }),
    "bloom-error-rate": Flags.string({ description: "spec bloom filters: the error rate they were built with." }),
  };

  private output: string[] = [];
  private outputChars = 0;

  public async run(): Promise<void> {
    const json = this.jsonMode || (!this.flags.tree && !process.stdout.isTTY);
    const blobOptions = { ...this.blobOptions(), rows: !json };
    const { blobs, count } = await this.blobSource();
    let failed = 0;
    let total = 0;
    const one = (blob: InputBlob): void => {
      total += 1;
      const result: BlobResult = "bytes" in blob ? decodeBlob(blob.bytes, blobOptions) : { record: { type: "error", code: blob.error.code, message: blob.error.message }, title: "error", rows: [], error: blob.error };
      if (result.error) {
        failed += 1;
        this.reportFailure(blob, result.error, count);
      }
      this.emit(blob, result, json, count);
    };
    // trees are flushed blob by blob so they interleave with the failures on stderr
    const full = () => !json || this.outputChars >= OUTPUT_CHUNK_CHARS;
    try {
      // a plain loop over an array: `for await` would cost a microtask per blob
      if (Symbol.iterator in blobs) {
        for (const blob of blobs) {
          if (this.abort.signal.aborted) break;
          one(blob);
          if (full()) await this.flush();
        }
      } else {
        for await (const blob of blobs) {
          if (this.abort.signal.aborted) break;
          one(blob);
          if (full()) await this.flush();
        }
      }
    } finally {
      await this.flush();
    }
    if (total > 1) this.status(`decoded ${total - failed} of ${total} blobs${failed > 0 ? `, ${failed} failed` : ""}`);
    if (failed > 0) throw new ExitWith(EXIT.badInput);
  }

  /** The blobs to decode, and how many there are (`Infinity` for a stream still arriving). */
  private async blobSource(): Promise<{ blobs: Iterable<InputBlob> | AsyncIterable<InputBlob>; count: number }> {
    if (this.flags.delimited) {
      const format = this.flags["input-format"];
      if (format !== "auto" && format !== "raw") throw new SdsError("E_USAGE", `--delimited reads binary input: --input-format ${format} does not apply`);
      return { blobs: readDelimited(await this.openStream(), this.flags["max-bytes"]), count: Number.POSITIVE_INFINITY };
    }
    const forcedText = this.flags["input-format"] === "hex" || this.flags["input-format"] === "base64";
    if (forcedText && !this.flags.single && this.flags.hex === undefined && this.flags.b64 === undefined) {
      const streamed = streamTextBlobs(await this.openStream(), { format: this.flags["input-format"] as "hex" | "base64", accepts: (bytes) => acceptsAsMessage(bytes), inputBytesMax: this.flags["max-bytes"] });
      this.detail(`input: ${this.flags["input-format"]} (forced), streamed one blob per line`);
      return { blobs: streamed, count: Number.POSITIVE_INFINITY };
    }
    const input = await this.readInput();
    const format = this.flags.hex !== undefined ? "hex" : this.flags.b64 !== undefined ? "base64" : (this.flags["input-format"] as InputFormat | "auto");
    const single = this.flags.single || this.flags.hex !== undefined || this.flags.b64 !== undefined;
    const parsed = splitBlobs(input, { format, single, accepts: (bytes) => acceptsAsMessage(bytes) });
    this.detail(`input: ${parsed.format} (${parsed.reason}), ${parsed.blobs.length} blob${parsed.blobs.length === 1 ? "" : "s"}`);
    return { blobs: parsed.blobs, count: parsed.blobs.length };
  }

  /** FILE or stdin as a stream of chunks (--delimited, or a forced text format). */
  private async openStream(): Promise<AsyncIterable<Uint8Array | string>> {
    if (this.args.file !== undefined && this.args.file !== "-") {
      const handle = await openInput(this.args.file);
      return handle.createReadStream({ highWaterMark: DELIMITED_CHUNK_BYTES });
    }
    if (process.stdin.isTTY) throw new SdsError("E_USAGE", "no input: pipe blobs into `sds decode`, or give a FILE (see `sds decode --help`)");
    return process.stdin;
  }

  private blobOptions(): BlobDecodeOptions {
    const errorRateText = this.flags["bloom-error-rate"];
    const errorRate = errorRateText === undefined ? undefined : Number(errorRateText);
    if (errorRate !== undefined && !(errorRate > 0 && errorRate < 1)) {
      throw new SdsError("E_USAGE", `--bloom-error-rate must be a number between 0 and 1, got ${errorRateText}`);
    }
    return {
      dialect: this.flags.dialect as BlobDecodeOptions["dialect"],
      what: this.flags.what as DecodeTarget,
      raw: this.flags.raw,
      maxDepth: this.flags["max-depth"],
      bloom: { ...(this.flags["bloom-capacity"] !== undefined ? { capacity: this.flags["bloom-capacity"] } : {}), ...(errorRate !== undefined ? { errorRate } : {}) },
      bytesShownMax: this.flags.full ? 0 : 48,
    };
  }

  /** Input bytes from --hex / --b64, FILE, or stdin, never more than --max-bytes. */
  private async readInput(): Promise<Uint8Array> {
    const maxBytes = this.flags["max-bytes"];
    const inline = this.flags.hex ?? this.flags.b64;
    if (inline !== undefined) {
      if (this.args.file !== undefined) throw new SdsError("E_USAGE", "give either FILE or --hex/--b64, not both");
      const bytes = new TextEncoder().encode(inline);
      if (bytes.length > maxBytes) throw tooLarge(maxBytes);
      return bytes;
    }
    if (this.args.file !== undefined && this.args.file !== "-") return readFileBounded(this.args.file, maxBytes);
    if (process.stdin.isTTY) {
      throw new SdsError("E_USAGE", "no input: pipe a blob into `sds decode`, give a FILE, or use --hex / --b64 (see `sds decode --help`)");
    }
    return readStreamBounded(process.stdin, maxBytes, this.abort.signal);
  }

  private reportFailure(blob: InputBlob, error: SdsError, blobCount: number): void {
    const where = [blobCount > 1 || blob.line !== undefined ? `blob ${blob.index + 1}` : "blob", blob.line !== undefined ? `line ${blob.line}` : undefined]
      .filter((part) => part !== undefined)
      .join(", ");
    const p = this.colors.err;
    process.stderr.write(`${p.red("error")} ${where}: ${error.code}: ${error.message}\n`);
  }

  private emit(blob: InputBlob, result: BlobResult, json: boolean, blobCount: number): void {
    const bytes = "bytes" in blob ? blob.bytes.length : undefined;
    if (json) {
      this.push(jsonLine(blob, result.record, bytes));
      return;
    }
    if (result.error && result.rows.length === 0) return;
    const p = this.colors.out;
    const label = [blobCount > 1 ? `blob ${blob.index + 1}` : undefined, blob.line !== undefined && blobCount > 1 ? `line ${blob.line}` : undefined, blob.format, bytes !== undefined ? `${bytes} bytes` : undefined]
      .filter((part) => part !== undefined)
      .join(" · ");
    const separator = blob.index > 0 ? "\n" : "";
    const note = result.note !== undefined ? `${p.dim(result.note)}\n` : "";
    this.push(`${separator}${p.bold(label)} ${p.dim("—")} ${result.title}\n${note}${renderTree(result.rows, p)}\n`);
  }

  /** Queues output; the run loop writes it out with {@link flush}. */
  private push(text: string): void {
    this.output.push(text);
    this.outputChars += text.length;
  }

  /** Writes the queued output in one go, waiting for stdout to drain when its buffer is full. */
  private async flush(): Promise<void> {
    if (this.output.length === 0) return;
    const text = this.output.join("");
    this.output = [];
    this.outputChars = 0;
    await this.write(text);
  }

  /** Writes to stdout and waits for it to drain when its buffer is full (or the command is aborted). */
  private async write(text: string): Promise<void> {
    if (process.stdout.write(text)) return;
    await Promise.race([once(process.stdout, "drain"), once(this.abort.signal, "abort")]).catch(() => undefined);
  }
}

/**
 * One NDJSON line: the record with `index`, `line`, `inputFormat` and `bytes` spliced in after
 * `type`. Records hold only strings, numbers, booleans and null (decodeBlob converts bigints
 * and bytes), so they are stringified without a replacer (a per-value callback was a large
 * share of the time).
 */
function jsonLine(blob: InputBlob, record: Record<string, unknown>, bytes: number | undefined): string {
  const meta = `,"index":${blob.index}${blob.line !== undefined ? `,"line":${blob.line}` : ""},"inputFormat":${JSON.stringify(blob.format)}${bytes !== undefined ? `,"bytes":${bytes}` : ""}`;
  const head = `{"type":${JSON.stringify(record.type)}`;
  const messageTail = messageRecordTail(record);
  if (messageTail !== undefined) return `${head}${meta}${messageTail}\n`;
  let body: string | undefined;
  try {
    body = JSON.stringify(record);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error; // a bigint: fall back to the replacer
  }
  body ??= JSON.stringify(record, jsonReplacer);
  if (body.startsWith(head)) return `${head}${meta}${body.slice(head.length)}\n`;
  const ordered = { ...pickType(record), index: blob.index, ...(blob.line !== undefined ? { line: blob.line } : {}), inputFormat: blob.format, ...(bytes !== undefined ? { bytes } : {}), ...withoutType(record) };
  return `${JSON.stringify(ordered, jsonReplacer)}\n`;
}

function pickType(record: Record<string, unknown>): Record<string, unknown> {
  return { type: record.type };
}

function withoutType(record: Record<string, unknown>): Record<string, unknown> {
  const { type: _type, ...rest } = record;
  return rest;
}

/** Whether bytes decode as an SDS message in some dialect (used to rejoin wrapped dumps). */
function acceptsAsMessage(bytes: Uint8Array): boolean {
  try {
    decodeMessage(bytes);
    return true;
  } catch (error) {
    if (error instanceof SdsError) return false;
    throw error;
  }
}

function tooLarge(maxBytes: number): SdsError {
  return new SdsError("E_PAYLOAD_TOO_LARGE", `input is larger than --max-bytes ${maxBytes}; raise --max-bytes to decode it`, { maxBytes });
}

/** Opens FILE for reading; a missing or unreadable one is `E_INPUT_INVALID`. */
async function openInput(path: string): Promise<FileHandle> {
  try {
    return await open(path, "r");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "EIO";
    throw new SdsError("E_INPUT_INVALID", `cannot read ${path}: ${code === "ENOENT" ? "no such file" : code}`, { path, errno: code });
  }
}

/** Reads a whole file, refusing one larger than `maxBytes` before reading it. */
async function readFileBounded(path: string, maxBytes: number): Promise<Uint8Array> {
  const handle = await openInput(path);
  try {
    const size = (await handle.stat()).size;
    if (size > maxBytes) throw tooLarge(maxBytes);
    return new Uint8Array(await handle.readFile());
  } finally {
    await handle.close();
  }
}

/** Reads a stream to its end, stopping with `E_PAYLOAD_TOO_LARGE` once it passes `maxBytes`. */
async function readStreamBounded(stream: NodeJS.ReadableStream, maxBytes: number, signal: AbortSignal): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    if (signal.aborted) break;
    const buffer = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    total += buffer.length;
    if (total > maxBytes) throw tooLarge(maxBytes);
    chunks.push(buffer);
  }
  return new Uint8Array(Buffer.concat(chunks));
}
