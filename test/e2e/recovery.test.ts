/**
 * Failures in the middle of a stream, with real processes: a listener SIGKILLed and restarted
 * catches up with nothing missed and nothing repeated; a relay (with a store file) restarted
 * mid-stream loses nothing once the clients reconnected. Needs `npx tsc -b` first.
 */
import { afterAll, describe, expect, it } from "vitest";
import { causalProblems, killAll, numberedLines, records, run, sds, startRelay, tempDir } from "./harness.js";

describe("recovery (real processes)", () => {
  const data = tempDir();
  afterAll(async () => {
    await killAll();
    data.cleanup();
  });

  // listen marks what it printed right after each write; a restart prints what was delivered
  // but never marked. With stdout appended to a file (`>> FILE`), what the killed run wrote but
  // could not mark is found in the file and not written again: exactly once. The kill comes from
  // outside (anywhere), or from listen itself inside each window of the print path.
  const kills = [
    { how: "SIGKILL from outside", crash: undefined },
    { how: "killed after a commit, before the write", crash: "before-write:4" },
    { how: "killed inside the write (half a batch written)", crash: "mid-write:4" },
    { how: "killed after the write, before the mark", crash: "after-write:4" },
  ];
  it.each(kills)("a listener $how and restarted (stdout >> file) misses nothing and repeats nothing", { timeout: 240_000 }, async ({ crash }) => {
    const relay = await startRelay();
    const env = { SDS_DATA_DIR: data.path, SDS_RELAY: relay.url };
    const channel = `kill-${crash?.replace(/:.*/, "") ?? "outside"}`;
    const total = 400;
    const file = `${data.path}/${channel}.ndjson`;
    const first = sds(["listen", channel, "--as", "bob", "--json"], { env: { ...env, SDS_TEST_CRASH_LISTEN: crash ?? "" }, stdin: "ignore", stdoutFile: file });
    await first.waitFor((_, stderr) => stderr.includes("listening on"));
    const sender = run(["send", channel, "--as", "alice"], { env, input: numberedLines("alice", total) });
    if (crash === undefined) {
      await first.waitFor((lines) => lines.length >= 50, 60_000);
      first.child.kill("SIGKILL");
    }
    expect(await first.exited).toBe(137);
    const before = records(first.lines());
    expect((await sender).status).toBe(0);
    const second = sds(["listen", channel, "--as", "bob", "--json", "--count", String(total - before.length), "--timeout", "150"], { env, stdin: "ignore", stdoutFile: file });
    const status = await second.exited;
    const all = records(second.lines());
    const expected = numberedLines("alice", total).trimEnd().split("\n");
    const got = new Set(all.map((record) => record.payload));
    expect(status, `missing: ${expected.filter((line) => !got.has(line)).slice(0, 10).join(", ")}\n${second.stderr()}`).toBe(0);
    expect(before.length).toBeGreaterThan(0);
    expect(all.map((record) => record.payload)).toEqual(expected);
    expect(causalProblems(all)).toEqual([]);
    if (crash !== undefined) expect(second.stderr()).toMatch(/printing \d+ message\(s\) delivered before the last run ended/);
  });

  it("a listener killed mid-stream and restarted (stdout a pipe) misses nothing", { timeout: 240_000 }, async () => {
    const relay = await startRelay();
    const env = { SDS_DATA_DIR: data.path, SDS_RELAY: relay.url };
    const total = 300;
    const first = sds(["listen", "pipe", "--as", "erin", "--json"], { env, stdin: "ignore" });
    await first.waitFor((_, stderr) => stderr.includes("listening on"));
    const sender = run(["send", "pipe", "--as", "frank"], { env, input: numberedLines("frank", total) });
    await first.waitFor((lines) => lines.length >= 50, 60_000);
    first.child.kill("SIGKILL");
    await first.exited;
    const before = records(first.lines());
    expect((await sender).status).toBe(0);
    const expected = numberedLines("frank", total).trimEnd().split("\n");
    const seen = new Set(before.map((record) => record.payload));
    const second = sds(["listen", "pipe", "--as", "erin", "--json", "--timeout", "150"], { env, stdin: "ignore" });
    // A pipe cannot be looked at: the batch being printed when the kill came may come again (at least once).
    await second.waitFor((lines) => records(lines).filter((record) => !seen.has(record.payload)).length >= total - seen.size, 150_000);
    second.child.kill("SIGTERM");
    await second.exited;
    const after = records(second.lines());
    const firstSeen = [...new Set([...before, ...after].map((record) => record.payload))];
    expect(firstSeen).toEqual(expected);
    expect(causalProblems([...before, ...after.filter((record) => !seen.has(record.payload))])).toEqual([]);
  });

  it("a relay restarted mid-stream loses nothing once the clients reconnect", async () => {
    const storeFile = `${data.path}/relay-store.db`;
    const relay = await startRelay(["--store-file", storeFile]);
    const env = { SDS_DATA_DIR: data.path, SDS_RELAY: relay.url };
    const total = 300;
    const listener = sds(["listen", "restart", "--as", "carol", "--json", "--count", String(total), "--timeout", "150"], { env, stdin: "ignore" });
    await listener.waitFor((_, stderr) => stderr.includes("listening on"));
    const sender = sds(["send", "restart", "--as", "dave", "--timeout", "150"], { env, input: numberedLines("dave", total) });
    await listener.waitFor((lines) => lines.length >= 30, 60_000);
    relay.process.child.kill("SIGTERM");
    await relay.process.exited;
    const again = await startRelay(["--store-file", storeFile], relay.port);
    expect(await sender.exited, sender.stderr()).toBe(0);
    expect(await listener.exited, listener.stderr()).toBe(0);
    const stream = records(listener.lines());
    expect(stream.map((record) => record.payload)).toEqual(numberedLines("dave", total).trimEnd().split("\n"));
    expect(causalProblems(stream)).toEqual([]);
    again.process.child.kill("SIGTERM");
  }, 200_000);
});
