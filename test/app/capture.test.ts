import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { CaptureWriter, openCapture } from "../../src/app/capture.js";

describe("capture files", () => {
  const dir = mkdtempSync(join(tmpdir(), "sds-capture-"));

  it("round-trips records with relative times", async () => {
    const path = join(dir, "a.ndjson");
    const writer = CaptureWriter.open(path, { startedAtMs: 1000, source: "test", channel: "demo" });
    writer.write({ atMs: 1005, topic: "/sds/1/demo/proto", hash: "ab01", envelope: new Uint8Array([1, 2, 3]) });
    writer.write({ atMs: 1010, topic: "/sds/1/demo/proto", hash: "cd02", envelope: new Uint8Array(0) });
    await writer.close();
    const reader = await openCapture(path);
    expect(reader.header).toMatchObject({ format: "sds-capture", version: 1, startedAtMs: 1000, channel: "demo" });
    const records = [];
    for await (const record of reader.records) records.push(record);
    expect(records.map((record) => [record.t, record.hash, Array.from(record.envelope)])).toEqual([
      [5, "ab01", [1, 2, 3]],
      [10, "cd02", []],
    ]);
  });

  it("refuses other versions, a missing header, and bad records with their line number", async () => {
    await expect(openCapture(Readable.from(['{"format":"sds-capture","version":2,"startedAtMs":0}\n']))).rejects.toMatchObject({ code: "E_INPUT_FORMAT" });
    await expect(openCapture(Readable.from(['{"t":0}\n']))).rejects.toMatchObject({ code: "E_INPUT_FORMAT" });
    const path = join(dir, "bad.ndjson");
    writeFileSync(path, '{"format":"sds-capture","version":1,"startedAtMs":0}\n{"t":1,"topic":"/a/b/c/d","hash":"00","envelope":"AQ=="}\n{"t":-1}\n');
    const reader = await openCapture(path);
    const first = await reader.records.next();
    expect(first.done).toBe(false);
    await expect(reader.records.next()).rejects.toThrow(/line 3/);
  });

  it("says clearly when the file does not exist", async () => {
    await expect(openCapture(join(dir, "missing"))).rejects.toMatchObject({ code: "E_INPUT_INVALID" });
  });
});
