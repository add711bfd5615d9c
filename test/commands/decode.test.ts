/**
 * `sds decode` as a user runs it: the BUILT CLI (dist/, from `npm run build` / `npx tsc -b`)
 * spawned with pipes, files, inline hex/base64, and checked on stdout, stderr and exit status.
 */
import { spawnSync } from "node:child_process";
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

function run(args: string[], input?: string | Buffer): Run {
  const result = spawnSync(process.execPath, [bin, "decode", ...args], { input: input ?? "", env: { ...process.env, NO_COLOR: "1" }, timeout: 30_000 });
  const stdout = result.stdout.toString("utf8");
  const records = stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { status: result.status, stdout, stderr: result.stderr.toString("utf8"), records };
}

let dir: string;
beforeAll(() => {
  if (!existsSync(join(root, "dist", "commands", "decode.js"))) spawnSync("npx", ["tsc", "-b"], { cwd: root, stdio: "inherit" });
  dir = mkdtempSync(join(tmpdir(), "sds-decode-"));
});

describe("sds decode", () => {
  it("decodes raw bytes piped on stdin to one JSON document", () => {
    const { status, records } = run([], spec);
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
    const file = join(dir, "nim.bin");
    writeFileSync(file, nim);
    const { status, records } = run([file]);
    expect(status).toBe(0);
    expect(records[0]).toMatchObject({ dialect: "nim", kind: "content", message: { senderId: "alice", lamportTimestamp: "1700000000000" } });
  });

  it("accepts hex with spaces, 0x prefixes, commas and newlines in one blob", () => {
    const bytes = [...spec].map((byte) => `0x${byte.toString(16).padStart(2, "0")}`);
    const cArray = bytes.reduce((text, token, index) => text + token + (index % 12 === 11 ? ",\n" : ", "), "").replace(/[,\s]+$/, "");
    for (const input of [spec.toString("hex").replace(/(..)/g, "$1 "), cArray]) {
      const { status, records } = run([], input);
      expect(status).toBe(0);
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({ inputFormat: "hex", dialect: "spec", bytes: spec.length });
    }
    const inline = run(["--hex", `0x${SPEC_HEX}`]);
    expect(inline.records[0]).toMatchObject({ dialect: "spec", bytes: spec.length });
  });

  it("rejoins a fixed-width wrapped hex dump (xxd -p) into one blob", () => {
    const wrapped = (SPEC_HEX.match(/.{1,60}/g) as string[]).join("\n");
    const { status, records } = run([], `${wrapped}\n`);
    expect(status).toBe(0);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ dialect: "spec", bytes: spec.length });
  });

  it("accepts base64 on stdin and with --b64", () => {
    expect(run([], nim.toString("base64")).records[0]).toMatchObject({ inputFormat: "base64", dialect: "nim" });
    expect(run(["--b64", nim.toString("base64url").replace(/=+$/, "")]).records[0]).toMatchObject({ dialect: "nim" });
  });

  it("decodes one blob per line to NDJSON with line numbers, and keeps going past a bad one", () => {
    const truncated = SPEC_HEX.slice(0, 40);
    const input = `${SPEC_HEX}\n\n${truncated}\n${NIM_HEX}\n${SYNC_HEX}\n`;
    const { status, records, stderr } = run(["--json"], input);
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

  it("forces a dialect, and reports a mismatch with its offset and exit 3", () => {
    expect(run(["--dialect", "nim", "--hex", NIM_HEX]).records[0]).toMatchObject({ dialect: "nim" });
    const wrong = run(["--dialect", "spec", "--hex", NIM_HEX]);
    expect(wrong.status).toBe(3);
    expect(wrong.records[0]).toMatchObject({ type: "error", code: "E_DECODE_WIRE_TYPE", field: "messageId", offset: 66 });
  });

  it("dumps any protobuf schema-less with --raw", () => {
    const { status, records } = run(["--raw", "--hex", "08 96 01 12 07 74 65 73 74 69 6e 67 1a 03 08 96 01"]);
    expect(status).toBe(0);
    const fields = records[0]?.fields as Array<Record<string, unknown>>;
    expect(fields.map((field) => [field.field, field.kind, field.offset])).toEqual([
      [1, "varint", 0],
      [2, "string", 3],
      [3, "message", 12],
    ]);
    expect(fields[0]?.value).toBe("150");
    expect(fields[1]?.value).toBe("testing");
    const broken = run(["--raw", "--hex", "0896011207"]);
    expect(broken.status).toBe(3);
    expect(broken.records[0]).toMatchObject({ type: "raw", error: { code: "E_DECODE_TRUNCATED", offset: 4 } });
  });

  it("prints a tree with byte offsets on request", () => {
    const { status, stdout } = run(["--tree", "--hex", SPEC_HEX]);
    expect(status).toBe(0);
    expect(stdout).toContain("spec content message");
    expect(stdout).toMatch(/@0\s+\+7\s+1 senderId\s+"alice"/);
    expect(stdout).toMatch(/@85\s+\+7\s+10 lamportTimestamp\s+1700000000000/);
    expect(stdout).toMatch(/retrievalHint\s+0xaabb/);
    expect(stdout).toMatch(/content\s+"hello"/);
  });

  it("decodes nim bloom filters and Reliable Channel envelopes", () => {
    expect(run(["--what", "bloom", "--hex", NIM_BLOOM_HEX]).records[0]).toMatchObject({ type: "bloom", dialect: "nim", bloom: { kHashes: 7, mBits: 100, capacity: 10 } });
    const envelope = encodeEnvelope({ payload: spec, contentTopic: "/sds/1/demo/proto", meta: RELIABLE_CHANNEL_META_BYTES });
    const record = run([], Buffer.from(envelope).toString("base64")).records[0] as Record<string, any>;
    expect(record).toMatchObject({ type: "envelope", envelope: { contentTopic: "/sds/1/demo/proto", metaText: "RELIABLE-CHANNEL-API/1" } });
    expect(record.payloadDecoded).toMatchObject({ type: "message", dialect: "spec", kind: "content" });
  });

  it("refuses empty, oversized and missing input with a clear error", () => {
    const empty = run([], "");
    expect(empty.status).toBe(3);
    expect(empty.stderr).toContain("E_INPUT_INVALID");
    const big = run(["--max-bytes", "10"], spec);
    expect(big.status).toBe(3);
    expect(big.stderr).toContain("E_PAYLOAD_TOO_LARGE");
    const missing = run([join(dir, "nope.bin")]);
    expect(missing.status).toBe(3);
    expect(missing.stderr).toContain("no such file");
    const both = run(["--json", "--hex", "00", "--b64", "AA=="]);
    expect(both.status).toBe(2);
  });

  it("has help", () => {
    const result = spawnSync(process.execPath, [bin, "decode", "--help"], { env: { ...process.env, NO_COLOR: "1" } });
    expect(result.status).toBe(0);
    const help = result.stdout.toString();
    expect(help).toContain("--hex");
    expect(help).toContain("--input-format");
  });
});
