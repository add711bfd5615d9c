/**
 * Regressions found by the end-to-end benchmark, with real processes (needs `npx tsc -b`):
 * a listener that catches up on a relay store whose oldest messages were evicted used to wait
 * for them forever (the spec dialect never gives up on a dependency, and every later message
 * names the evicted ones in its causal history), printing nothing; it now gives them up after
 * `--lost-after` seconds, reports them lost, and prints the rest in order. A bulk pipe into
 * `send` with a listener attached once never finished (publishes timed out behind 1,000 queued
 * ~35 kB envelopes and waited for SDS resends) and the listener, committing envelope by envelope,
 * fell behind until the relay cut it off as a slow consumer.
 */
import { afterAll, describe, expect, it } from "vitest";
import { causalProblems, killAll, numberedLines, records, run, sds, startRelay, tempDir } from "./harness.js";

describe("bulk traffic regressions (real processes)", () => {
  const data = tempDir();
  afterAll(async () => {
    await killAll();
    data.cleanup();
  });

  it("a first listen on a store that evicted the first messages prints the rest, reporting the evicted ones lost", async () => {
    const kept = 150;
    const total = 220;
    // The relay keeps only the newest `kept` envelopes: the first total - kept are gone from its store.
    const relay = await startRelay(["--store-size", String(kept)]);
    const env = { SDS_DATA_DIR: data.path, SDS_RELAY: relay.url };
    const sent = await run(["send", "evicted", "--as", "alice"], { env, input: numberedLines("alice", total) });
    expect(sent.status, sent.stderr).toBe(0);
    const listener = sds(["listen", "evicted", "--as", "bob", "--json", "--count", String(kept), "--lost-after", "3", "--timeout", "50", "--verbose"], { env, stdin: "ignore" });
    const status = await listener.exited;
    const got = records(listener.lines());
    expect(status, listener.stderr()).toBe(0);
    const expected = numberedLines("alice", total).trimEnd().split("\n").slice(total - kept);
    expect(got.map((record) => record.payload)).toEqual(expected);
    expect(causalProblems(got)).toEqual([]);
    expect(listener.stderr()).toMatch(/lost \d+ message\(s\)/);
  }, 60_000);

  it("a bulk pipe into send with a listener attached: send exits by itself and the listener keeps up, complete and in order", async () => {
    const total = 1200;
    const relay = await startRelay();
    const env = { SDS_DATA_DIR: data.path, SDS_RELAY: relay.url };
    const listener = sds(["listen", "bulk", "--as", "bob", "--json", "--count", String(total), "--timeout", "55", "--verbose"], { env, stdin: "ignore" });
    await listener.waitFor((_, stderr) => stderr.includes("listening on"));
    // --timeout bounds the sender: it used to hang with publishes timed out behind 1,000 queued 35 kB envelopes.
    const sender = sds(["send", "bulk", "--as", "alice", "--timeout", "50"], { env, input: numberedLines("alice", total) });
    const [sendStatus, listenStatus] = await Promise.all([sender.exited, listener.exited]);
    expect(sendStatus, sender.stderr()).toBe(0);
    expect(sender.stderr()).toContain(`relay confirmed ${total}`);
    expect(listenStatus, listener.stderr()).toBe(0);
    const got = records(listener.lines());
    expect(got.map((record) => record.payload)).toEqual(numberedLines("alice", total).trimEnd().split("\n"));
    expect(causalProblems(got)).toEqual([]);
    // The relay never had to cut the listener off as a slow consumer.
    expect(listener.stderr()).not.toContain("slow consumer");
  }, 60_000);
});
