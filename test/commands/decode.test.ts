/**
 * `sds decode` as a user runs it: the BUILT CLI (dist/, from `npm run build` / `npx tsc -b`)
 * spawned with pipes, files, inline hex/base64, and checked on stdout, stderr and exit status.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { encodeEnvelope, RELIABLE_CHANNEL_META_BYTES } from "../../src/core/relay/envelope.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const bin = join(root, "bin", "run.js");

const ID_HEX = Buffer.from("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824").toString("hex");
const SPEC_HEX = `0a05616c6963651240${ID_HEX}1a0a6d792d6368616e6e656c5080d095ffbc315a0f0a04646570311202aabb1a03626f62620201026a0e0a056c6f7374311a056361726f6ca2010568656c6c6f`;
const NIM_HEX = `0a40${ID_HEX}1080d095ffbc311a0f0a04646570311202aabb1a03626f62220a6d792d6368616e6e656c2a0568656c6c6f320201023a05616c6963656a0e0a056c6f7374311a056361726f6c`;
const SYNC_HEX = "0a05616c696365120873796e632d6162631a0a6d792d6368616e6e656c5081d095ffbc315a0b0a026d311a05616c696365";
const NIM_BLOOM_HEX = "0a1001014d92140040000001000400000000100a18904e20072864";
const spec = Buffer.from(SPEC_HEX, "hex");
const nim = Buffer.from(NIM_HEX, "hex");

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  records: Array<Record<string, unknown>>;
}

/** Spawns the built CLI; resolves with its status, output and the JSON records on stdout. */
function runAsync(args: string[], input?: string | Buffer): Promise<Run> {
  return new Promise((resolve, reject) => {
    const resolved = args.map((arg) => (arg === "@nimFile" ? join(dir, "nim.bin") : arg === "@missing" ? join(dir, "nope.bin") : arg === "@delimitedFile" ? join(dir, "stream.bin") : arg));
    const child = spawn(process.execPath, [bin, "decode", ...resolved], { env: { ...process.env, NO_COLOR: "1" } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", reject);
    child.on("close", (status) => {
      const stdout = Buffer.concat(out).toString("utf8");
      const records = stdout
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      resolve({ status, stdout, stderr: Buffer.concat(err).toString("utf8"), records });
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(input ?? "");
  });
}

/**
 * Every CLI run of this file, started up front a few at a time (each run is a whole Node
 * process; running them side by side keeps the file fast on a busy machine). Tests then
 * assert on the results by name.
 */
const planned = new Map<string, () => Promise<Run>>();
const results = new Map<string, Run>();
function plan(name: string, args: string[], input?: string | Buffer | (() => string | Buffer)): void {
  planned.set(name, () => runAsync(args, typeof input === "function" ? input() : input));
}
function result(name: string): Run {
  const found = results.get(name);
  if (!found) throw new Error(`no run named ${name}`);
  return found;
}

let dir = "";
const PARALLEL_RUNS = 4;

const hexSpaced = spec.toString("hex").replace(/(..)/g, "$1 ");
const cArray = [...spec]
  .map((byte) => `0x${byte.toString(16).padStart(2, "0")}`)
  .reduce((text, token, index) => text + token + (index % 12 === 11 ? ",\n" : ", "), "")
  .replace(/[,\s]+$/, "");
const wrapped = `${(SPEC_HEX.match(/.{1,60}/g) as string[]).join("\n")}\n`;
const manyLines = `${SPEC_HEX}\n\n${SPEC_HEX.slice(0, 40)}\n${NIM_HEX}\n${SYNC_HEX}\n`;
const envelopeB64 = Buffer.from(encodeEnvelope({ payload: spec, contentTopic: "/sds/1/demo/proto", meta: RELIABLE_CHANNEL_META_BYTES })).toString("base64");

plan("rawStdin", [], spec);
plan("nimFile", ["@nimFile"]);
plan("hexSpaced", [], hexSpaced);
plan("cArray", [], cArray);
plan("hexInline", ["--hex", `0x${SPEC_HEX}`]);
plan("wrapped", [], wrapped);
plan("b64Stdin", [], nim.toString("base64"));
plan("b64Flag", ["--b64", nim.toString("base64url").replace(/=+$/, "")]);
plan("many", ["--json"], manyLines);
plan("forcedNim", ["--dialect", "nim", "--hex", NIM_HEX]);
plan("wrongDialect", ["--dialect", "spec", "--hex", NIM_HEX]);
plan("raw", ["--raw", "--hex", "08 96 01 12 07 74 65 73 74 69 6e 67 1a 03 08 96 01"]);
plan("rawBroken", ["--raw", "--hex", "0896011207"]);
plan("tree", ["--tree", "--hex", SPEC_HEX]);
plan("bloom", ["--what", "bloom", "--hex", NIM_BLOOM_HEX]);
plan("envelope", [], envelopeB64);
plan("empty", [], "");
plan("tooBig", ["--max-bytes", "10"], spec);
plan("missing", ["@missing"]);
plan("both", ["--json", "--hex", "00", "--b64", "AA=="]);
plan("help", ["--help"]);

/** Blobs framed as protobuf writeDelimitedTo does: a varint length before each. */
function delimited(blobs: Buffer[]): Buffer {
  return Buffer.concat(blobs.flatMap((blob) => {
    const prefix: number[] = [];
    for (let rest = blob.length; ; rest >>>= 7) {
      if (rest < 0x80) {
        prefix.push(rest);
        break;
      }
      prefix.push((rest & 0x7f) | 0x80);
    }
    return [Buffer.from(prefix), blob];
  }));
}
const sync = Buffer.from(SYNC_HEX, "hex");
const stream = delimited([spec, nim, sync]);
const BATCH_BLOBS = 3000;
plan("delimited", ["--delimited", "--json"], Buffer.concat([stream, Buffer.from([0x20, 0x0a, 0x05])]));
plan("delimitedFile", ["--delimited", "--what", "message", "@delimitedFile"]);
plan("delimitedHex", ["--delimited", "--input-format", "hex"], stream);
plan("batch", ["--input-format", "hex", "--what", "message", "--dialect", "spec"], () => `${Array.from({ length: BATCH_BLOBS }, () => SPEC_HEX).join("\n")}\n`);

beforeAll(async () => {
  if (!existsSync(join(root, "dist", "commands", "decode.js"))) spawnSync("npx", ["tsc", "-b"], { cwd: root, stdio: "inherit" });
  dir = mkdtempSync(join(tmpdir(), "sds-decode-"));
  writeFileSync(join(dir, "nim.bin"), nim);
  writeFileSync(join(dir, "stream.bin"), stream);
  const queue = [...planned.entries()];
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const [name, start] = next;
      results.set(name, await start());
    }
  };
  await Promise.all(Array.from({ length: PARALLEL_RUNS }, worker));
}, 240_000);

describe("sds decode", () => {
  it("decodes raw bytes piped on stdin to one JSON document", () => {
    const { status, records } = result("rawStdin");
    expect(status).toBe(0);
    expect(records).toHaveLength(1);
    const record = records[0] as Record<string, any>;
    expect(record).toMatchObject({ type: "message", index: 0, inputFormat: "raw", bytes: spec.length, dialect: "spec", kind: "content" });
    expect(record.detection.confidence).toBe("certain");
    expect(record.detection.reason).toContain("decodes only as spec");
    expect(record.message).toMatchObject({ senderId: "alice", channelId: "my-channel", lamportTimestamp: "1700000000000", content: "68656c6c6f", contentText: "hello", bloomFilter: "0102" });
    expect(record.message.causalHistory).toEqual([{ messageId: "dep1", retrievalHint: "aabb", senderId: "bob" }]);
  });

  it("reads a file and detects the nim dialect", () => {
    const { status, records } = result("nimFile");
    expect(status).toBe(0);
    expect(records[0]).toMatchObject({ dialect: "nim", kind: "content", message: { senderId: "alice", lamportTimestamp: "1700000000000" } });
  });

  it("accepts hex with spaces, 0x prefixes, commas and newlines in one blob", () => {
    for (const name of ["hexSpaced", "cArray", "hexInline"]) {
      const { status, records } = result(name);
      expect(status).toBe(0);
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({ inputFormat: "hex", dialect: "spec", bytes: spec.length });
    }
  });

  it("rejoins a fixed-width wrapped hex dump (xxd -p) into one blob", () => {
    const { status, records } = result("wrapped");
    expect(status).toBe(0);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ dialect: "spec", bytes: spec.length });
  });

  it("accepts base64 on stdin and with --b64", () => {
    expect(result("b64Stdin").records[0]).toMatchObject({ inputFormat: "base64", dialect: "nim" });
    expect(result("b64Flag").records[0]).toMatchObject({ inputFormat: "base64", dialect: "nim" });
  });

  it("decodes one blob per line to NDJSON with line numbers, and keeps going past a bad one", () => {
    const { status, records, stderr } = result("many");
    expect(status).toBe(3);
    expect(records.map((record) => [record.type, record.line])).toEqual([
      ["message", 1],
      ["error", 3],
      ["message", 4],
      ["message", 5],
    ]);
    expect(records[1]).toMatchObject({ index: 1, code: "E_DECODE_TRUNCATED" });
    expect(typeof records[1]?.offset).toBe("number");
    expect(records[3]).toMatchObject({ kind: "sync", dialect: "spec" });
    expect(stderr).toMatch(/blob 2, line 3: E_DECODE_TRUNCATED/);
    expect(stderr).toContain("decoded 3 of 4 blobs, 1 failed");
  });

  it("forces a dialect, and reports a mismatch as an error record with its offset and exit 3", () => {
    expect(result("forcedNim").records[0]).toMatchObject({ dialect: "nim", detection: { confidence: "certain" } });
    const wrong = result("wrongDialect");
    expect(wrong.status).toBe(3);
    expect(wrong.records[0]).toMatchObject({ type: "error", code: "E_DECODE_WIRE_TYPE", field: "messageId", offset: 66, inputFormat: "hex" });
    expect(wrong.stderr).toContain("E_DECODE_WIRE_TYPE");
  });

  it("dumps any protobuf schema-less with --raw", () => {
    const { status, records } = result("raw");
    expect(status).toBe(0);
    const fields = records[0]?.fields as Array<Record<string, unknown>>;
    expect(fields.map((field) => [field.field, field.kind, field.offset])).toEqual([
      [1, "varint", 0],
      [2, "string", 3],
      [3, "message", 12],
    ]);
    expect(fields[0]?.value).toBe("150");
    expect(fields[1]?.value).toBe("testing");
    const broken = result("rawBroken");
    expect(broken.status).toBe(3);
    expect(broken.records[0]).toMatchObject({ type: "raw", error: { code: "E_DECODE_TRUNCATED", offset: 4 } });
  });

  it("prints a tree with byte offsets on request", () => {
    const { status, stdout } = result("tree");
    expect(status).toBe(0);
    expect(stdout).toContain("spec content message");
    expect(stdout).toMatch(/@0\s+\+7\s+1 senderId\s+"alice"/);
    expect(stdout).toMatch(/@85\s+\+7\s+10 lamportTimestamp\s+1700000000000/);
    expect(stdout).toMatch(/retrievalHint\s+0xaabb/);
    expect(stdout).toMatch(/content\s+"hello"/);
  });

  it("decodes nim bloom filters and Reliable Channel envelopes", () => {
    expect(result("bloom").records[0]).toMatchObject({ type: "bloom", dialect: "nim", bloom: { kHashes: 7, mBits: 100, capacity: 10 } });
    const record = result("envelope").records[0] as Record<string, any>;
    expect(record).toMatchObject({ type: "envelope", envelope: { contentTopic: "/sds/1/demo/proto", metaText: "RELIABLE-CHANNEL-API/1" } });
    expect(record.payloadDecoded).toMatchObject({ type: "message", dialect: "spec", kind: "content" });
  });

  it("refuses empty, oversized and missing input, and conflicting sources, with a clear error", () => {
    expect(result("empty").status).toBe(3);
    expect(result("empty").stderr).toContain("E_INPUT_INVALID");
    expect(result("tooBig").status).toBe(3);
    expect(result("tooBig").stderr).toContain("E_PAYLOAD_TOO_LARGE");
    expect(result("missing").status).toBe(3);
    expect(result("missing").stderr).toContain("no such file");
    expect(result("both").status).toBe(2);
  });

  it("decodes a varint-length-delimited binary stream from stdin or a file, and reports a cut last frame", () => {
    const piped = result("delimited");
    expect(piped.status).toBe(3);
    expect(piped.records.map((record) => [record.type, record.index, record.inputFormat, record.bytes])).toEqual([
      ["message", 0, "raw", spec.length],
      ["message", 1, "raw", nim.length],
      ["message", 2, "raw", sync.length],
      ["error", 3, "raw", undefined],
    ]);
    expect(piped.records.slice(0, 3).map((record) => record.dialect)).toEqual(["spec", "nim", "spec"]);
    expect(piped.records[3]).toMatchObject({ code: "E_INPUT_FORMAT" });
    expect(piped.stderr).toContain("decoded 3 of 4 blobs, 1 failed");
    const fromFile = result("delimitedFile");
    expect(fromFile.status).toBe(0);
    expect(fromFile.records.map((record) => record.type)).toEqual(["message", "message", "message"]);
    expect(result("delimitedHex").status).toBe(2);
  });

  it("writes every record of a long run, in order, with its line (output is batched)", () => {
    const { status, records, stdout } = result("batch");
    expect(status).toBe(0);
    expect(records).toHaveLength(BATCH_BLOBS);
    expect(records.every((record, index) => record.index === index && record.line === index + 1 && record.type === "message")).toBe(true);
    expect(stdout.endsWith("\n")).toBe(true);
    expect(records[BATCH_BLOBS - 1]).toEqual(records[0] && { ...records[0], index: BATCH_BLOBS - 1, line: BATCH_BLOBS });
  });

  it("has help", () => {
    const { status, stdout } = result("help");
    expect(status).toBe(0);
    expect(stdout).toContain("--hex");
    expect(stdout).toContain("--input-format");
  });
});
