/**
 * A relay and three listening peers as real processes on loopback: 1,000 lines piped into
 * `send` by each of two peers arrive at every `listen` complete, in causal order, without
 * duplicates. Needs `npx tsc -b` first (spawns bin/run.js).
 */
import { afterAll, describe, expect, it } from "vitest";
import { causalProblems, killAll, numberedLines, records, run, sds, startRelay, tempDir } from "./harness.js";

/** Lines piped by each of the two senders (1,000 in all). */
const LINES = 500;

describe("send | relay | listen (real processes)", () => {
  const data = tempDir();
  afterAll(async () => {
    await killAll();
    data.cleanup();
  });

  it("delivers 1,000 lines piped by two senders to three listeners, complete, causal, exactly once", async () => {
    const relay = await startRelay();
    const env = { SDS_DATA_DIR: data.path, SDS_RELAY: relay.url };
    const listeners = ["carol", "dave", "erin"].map((name) => sds(["listen", "pipe", "--as", name, "--json", "--count", String(2 * LINES), "--timeout", "200"], { env, stdin: "ignore" }));
    await Promise.all(listeners.map((listener) => listener.waitFor((_, stderr) => stderr.includes("listening on"))));
    const [alice, bob] = await Promise.all([
      run(["send", "pipe", "--as", "alice"], { env, input: numberedLines("alice", LINES) }),
      run(["send", "pipe", "--as", "bob"], { env, input: numberedLines("bob", LINES) }),
    ]);
    expect(alice.status, alice.stderr).toBe(0);
    expect(bob.status, bob.stderr).toBe(0);
    expect(alice.stderr).toContain(`relay confirmed ${LINES}`);
    const statuses = await Promise.all(listeners.map((listener) => listener.exited));
    for (const [index, listener] of listeners.entries()) {
      expect(statuses[index], listener.stderr()).toBe(0);
      const stream = records(listener.lines());
      expect(stream).toHaveLength(2 * LINES);
      expect(new Set(stream.map((record) => record.payload)).size).toBe(2 * LINES);
      expect(causalProblems(stream)).toEqual([]);
    }
  }, 240_000);
});
