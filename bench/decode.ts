/**
 * `sds decode` throughput over a capture of 100,000 spec-dialect SDS messages (one hex blob per
 * line), against `protoc --decode_raw` (Debian `protobuf-compiler`) on the same bytes. protoc
 * decodes one message per run, so it gets the capture as one wrapper message whose field 1
 * repeats each blob; `--decode_raw` recurses into every blob, as our `--raw` does. MB/s is
 * counted over the blob bytes (not the hex text) and includes process start-up. Without protoc
 * on PATH its figures are reported as skipped (protocAvailable 0).
 *
 *   npm run build && node --import tsx bench/decode.ts   [BENCH_DECODE_BLOBS=100000] [BENCH_DECODE_AUTO=1]
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { contentMessageId } from "../src/core/protocol/message-id.js";
import { encodeMessage } from "../src/core/protocol/wire/index.js";
import { emitFigures, printTable } from "./lib.js";

const bin = fileURLToPath(new URL("../bin/run.js", import.meta.url));
const BLOBS = Number(process.env.BENCH_DECODE_BLOBS ?? 100_000);
/** The auto-detecting run is slower and optional (BENCH_DECODE_AUTO=1). */
const WITH_AUTO = process.env.BENCH_DECODE_AUTO === "1";
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sds-bench-decode-"));
const hexFile = path.join(dir, "capture.hex");
const wrapperFile = path.join(dir, "capture.pb");

/** Writes the capture twice: hex lines for sds, one length-delimited wrapper for protoc. */
function writeCapture(): number {
  const encoder = new TextEncoder();
  const hexLines: string[] = [];
  const wrapped: Buffer[] = [];
  let blobBytes = 0;
  let previous: string[] = [];
  for (let index = 0; index < BLOBS; index++) {
    const content = encoder.encode(`line ${index} of the decode benchmark, a short chat message`);
    const messageId = contentMessageId(content);
    const blob = encodeMessage({
      senderId: `peer-${index % 7}`, messageId, channelId: "bench-channel", lamportTimestamp: BigInt(1_700_000_000_000 + index),
      causalHistory: previous.map((id) => ({ messageId: id })), content, repairRequest: [],
    }, { dialect: "spec" });
    previous = [messageId, ...previous].slice(0, 2);
    blobBytes += blob.length;
    hexLines.push(Buffer.from(blob).toString("hex"));
    wrapped.push(Buffer.from([0x0a]), varint(blob.length), Buffer.from(blob));
  }
  fs.writeFileSync(hexFile, `${hexLines.join("\n")}\n`);
  fs.writeFileSync(wrapperFile, Buffer.concat(wrapped));
  return blobBytes;
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest & 0x7f) | 0x80);
    rest >>>= 7;
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

/** Runs a command with stdin from `inputFile`; returns seconds and stdout lines. */
function timed(command: string, args: string[], inputFile: string): Promise<{ seconds: number; lines: number }> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const input = fs.openSync(inputFile, "r");
    const child = spawn(command, args, { stdio: [input, "pipe", "pipe"] });
    fs.closeSync(input);
    let lines = 0;
    let stderr = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
    });
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) reject(new Error(`${command} ${args.join(" ")} exited ${code}: ${stderr.slice(0, 500)}`));
      else resolve({ seconds: Number(process.hrtime.bigint() - start) / 1e9, lines });
    });
  });
}

const protocAvailable = spawnSync("protoc", ["--version"], { stdio: "ignore" }).status === 0;
try {
  const blobBytes = writeCapture();
  const megabytes = blobBytes / 1e6;
  const sdsArgs = [bin, "decode", "-", "--input-format", "hex", "--max-bytes", String(1 << 30), "-q"];
  const ours = await timed(process.execPath, [...sdsArgs, "--what", "message", "--dialect", "spec", "--json"], hexFile);
  if (ours.lines !== BLOBS) throw new Error(`sds decode printed ${ours.lines} lines for ${BLOBS} blobs`);
  const oursAuto = WITH_AUTO ? await timed(process.execPath, [...sdsArgs, "--json"], hexFile) : undefined;
  const oursRaw = await timed(process.execPath, [...sdsArgs, "--raw", "--json"], hexFile);
  const protoc = protocAvailable ? await timed("protoc", ["--decode_raw"], wrapperFile) : undefined;
  const rate = (seconds: number) => megabytes / seconds;
  const rows: Array<Record<string, string | number>> = [
    { decoder: "sds decode --what message --dialect spec --json", seconds: ours.seconds, "MB/s": rate(ours.seconds), "blobs/s": BLOBS / ours.seconds },
    ...(oursAuto ? [{ decoder: "sds decode --json (auto-detect what and dialect)", seconds: oursAuto.seconds, "MB/s": rate(oursAuto.seconds), "blobs/s": BLOBS / oursAuto.seconds }] : []),
    { decoder: "sds decode --raw --json", seconds: oursRaw.seconds, "MB/s": rate(oursRaw.seconds), "blobs/s": BLOBS / oursRaw.seconds },
    protoc
      ? { decoder: "protoc --decode_raw (one wrapper message)", seconds: protoc.seconds, "MB/s": rate(protoc.seconds), "blobs/s": BLOBS / protoc.seconds }
      : { decoder: "protoc --decode_raw", seconds: "skipped: protoc not on PATH", "MB/s": "", "blobs/s": "" },
  ];
  printTable(`decode of ${BLOBS.toLocaleString("en-US")} spec-dialect blobs, ${megabytes.toFixed(1)} MB of blob bytes (wall time incl. start-up)`, rows);
  emitFigures("decode", {
    blobs: BLOBS,
    blobMegabytes: megabytes,
    protocAvailable: protocAvailable ? 1 : 0,
    sdsMessageMBps: rate(ours.seconds),
    ...(oursAuto ? { sdsAutoMBps: rate(oursAuto.seconds) } : {}),
    sdsRawMBps: rate(oursRaw.seconds),
    ...(protoc ? { protocMBps: rate(protoc.seconds), sdsMessageOverProtoc: protoc.seconds / ours.seconds, sdsRawOverProtoc: protoc.seconds / oursRaw.seconds } : {}),
  });
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
