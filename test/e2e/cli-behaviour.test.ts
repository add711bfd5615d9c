/**
 * Outcomes and exit codes users and scripts rely on, with real processes: large segmented
 * payloads, encrypted channels and wrong keys, oversize input and frames, a second writer on one database
 * (E_STORE_LOCKED), `listen | head -1` (EPIPE → exit 0, quiet), SIGINT (130), `demo`.
 * Needs `npx tsc -b` first.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killAll, run, sds, startRelay, tempDir } from "./harness.js";

describe("sds CLI behaviour (real processes)", () => {
  const data = tempDir();
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    const relay = await startRelay();
    env = { SDS_DATA_DIR: data.path, SDS_RELAY: relay.url };
  });
  afterAll(async () => {
    await killAll();
    data.cleanup();
  });

  it("carries a 3 MB binary payload, segmented, byte for byte", async () => {
    const payload = randomBytes(3 * 1024 * 1024);
    const listener = sds(["listen", "big", "--as", "bob", "--base64", "--count", "1", "--timeout", "60"], { env, stdin: "ignore" });
    await listener.waitFor((_, stderr) => stderr.includes("listening on"));
    const sent = await run(["send", "big", "--as", "alice", "--binary"], { env, input: payload });
    expect(sent.status, sent.stderr).toBe(0);
    expect(await listener.exited, listener.stderr()).toBe(0);
    expect(Buffer.from(listener.stdout().trim(), "base64").equals(payload)).toBe(true);
  }, 90_000);

  it("delivers on an encrypted channel with the right key and drops everything with a wrong one", async () => {
    const key = randomBytes(32).toString("hex");
    const wrong = randomBytes(32).toString("hex");
    const good = sds(["listen", "secret", "--as", "bob", "--count", "2", "--timeout", "30"], { env: { ...env, SDS_CHANNEL_KEY: key }, stdin: "ignore" });
    const bad = sds(["listen", "secret", "--as", "eve", "--count", "1", "--timeout", "6", "--verbose"], { env: { ...env, SDS_CHANNEL_KEY: wrong }, stdin: "ignore" });
    await Promise.all([good, bad].map((listener) => listener.waitFor((_, stderr) => stderr.includes("listening on"))));
    const sent = await run(["send", "secret", "--as", "alice", "--key", key], { env, input: "top\nsecret\n" });
    expect(sent.status, sent.stderr).toBe(0);
    expect(await good.exited, good.stderr()).toBe(0);
    expect(good.lines()).toEqual(["top", "secret"]);
    expect(await bad.exited).toBe(4);
    expect(bad.stdout()).toBe("");
    expect(bad.stderr()).toContain("wrong-key");
    expect(bad.stderr()).toContain("E_TIMEOUT");
  }, 60_000);

  it("refuses an oversize record with exit 3 and a bad key with exit 2", async () => {
    const oversize = await run(["send", "limits", "--as", "alice", "--binary", "--max-bytes", "1000"], { env, input: randomBytes(5000) });
    expect(oversize.status).toBe(3);
    expect(oversize.stderr).toContain("E_PAYLOAD_TOO_LARGE");
    const badKey = await run(["send", "limits", "--as", "alice", "--key", "not-a-key"], { env, input: "x\n" });
    expect(badKey.status).toBe(2);
    expect(badKey.stderr).toContain("E_CONFIG_INVALID");
    const badName = await run(["send", "../etc", "--as", "alice"], { env, input: "x\n" });
    expect(badName.status).toBe(2);
  }, 30_000);

  it("waits for peers' SDS acknowledgements with --wait-acks, exit 4 when nobody acknowledges in time", async () => {
    const listener = sds(["listen", "acks", "--as", "bob"], { env, stdin: "ignore" });
    await listener.waitFor((_, stderr) => stderr.includes("listening on"));
    const acked = await run(["send", "acks", "--as", "alice", "--wait-acks", "--timeout", "60", "--json"], { env, input: "a\nb\n" });
    expect(acked.status, acked.stderr).toBe(0);
    expect(JSON.parse(acked.stdout)).toMatchObject({ messages: 2, confirmed: 2, acknowledged: 2 });
    listener.child.kill("SIGTERM");
    expect(await listener.exited).toBe(143);
    const lonely = await run(["send", "no-peers", "--as", "alice", "--wait-acks", "--timeout", "2"], { env, input: "c\n" });
    expect(lonely.status).toBe(4);
    expect(lonely.stderr).toContain("E_NOT_CONFIRMED");
  }, 90_000);

  it("fails fast with exit 3 when envelopes exceed the relay's frame limit", async () => {
    const small = await startRelay(["--max-payload", "65536"]);
    const sent = await run(["send", "frames", "--as", "alice", "--binary", "--relay", small.url], { env, input: randomBytes(200_000) });
    expect(sent.status).toBe(3);
    expect(sent.stderr).toContain("E_PAYLOAD_TOO_LARGE");
    expect(sent.stderr).toContain("65536");
    small.process.child.kill("SIGTERM");
  }, 30_000);

  it("gives a second writer on the same database E_STORE_LOCKED (exit 3)", async () => {
    const holder = sds(["listen", "locked", "--as", "alice"], { env, stdin: "ignore" });
    await holder.waitFor((_, stderr) => stderr.includes("listening on"));
    const second = await run(["send", "locked", "--as", "alice"], { env, input: "hi\n" });
    expect(second.status).toBe(3);
    expect(second.stderr).toContain("E_STORE_LOCKED");
    holder.child.kill("SIGINT");
    expect(await holder.exited).toBe(130);
    expect(holder.stderr()).toContain("SIGINT received");
  }, 30_000);

  it("exits 0 quietly when stdout closes (listen | head -1)", async () => {
    const listener = sds(["listen", "pipe-close", "--as", "bob", "-q"], { env, stdin: "ignore" });
    const first = await run(["send", "pipe-close", "--as", "alice"], { env, input: "one\n" });
    expect(first.status).toBe(0);
    await listener.waitFor((lines) => lines.length >= 1);
    listener.child.stdout?.destroy();
    const more = await run(["send", "pipe-close", "--as", "alice"], { env, input: "two\nthree\n" });
    expect(more.status).toBe(0);
    expect(await listener.exited).toBe(0);
    expect(listener.stderr()).toBe("");
  }, 30_000);

  it("runs the demo to convergence and prints the per-peer table", async () => {
    const demo = await run(["demo", "--messages", "20"], { env: { SDS_DATA_DIR: data.path } });
    expect(demo.status, demo.stderr).toBe(0);
    for (const peer of ["alice", "bob", "carol"]) expect(demo.stdout).toContain(peer);
    expect(demo.stdout).toContain("40/40");
    expect(demo.stdout).toContain("acknowledged");
    expect(demo.stderr).toContain("SDS timings shortened");
  }, 90_000);
});
