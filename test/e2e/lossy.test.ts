/**
 * A lossy relay (its hidden test flags drop and duplicate live deliveries) still converges:
 * listeners recover what the link lost through SDS (causal-history gaps fetched from the relay
 * store by retrieval hint) and the periodic store poll (tails no later message reveals).
 * Needs `npx tsc -b` first. The fault seed is printed and can be fixed with SDS_SEED.
 */
import { afterAll, describe, expect, it } from "vitest";
import { causalProblems, killAll, numberedLines, records, run, sds, startRelay, tempDir } from "./harness.js";

describe("lossy relay (real processes)", () => {
  const data = tempDir();
  afterAll(async () => {
    await killAll();
    data.cleanup();
  });

  it("converges: every listener gets every message once, in causal order", async () => {
    const seed = Number(process.env.SDS_SEED ?? Math.floor(Math.random() * 1_000_000));
    console.log(`lossy relay fault seed ${seed}`);
    const relay = await startRelay(["--drop-rate", "0.2", "--duplicate-rate", "0.2", "--fault-seed", String(seed)]);
    const env = { SDS_DATA_DIR: data.path, SDS_RELAY: relay.url };
    const perSender = 100;
    const listeners = ["carol", "dave"].map((name) => sds(["listen", "lossy", "--as", name, "--json", "--count", String(2 * perSender), "--timeout", "90"], { env, stdin: "ignore" }));
    await Promise.all(listeners.map((listener) => listener.waitFor((_, stderr) => stderr.includes("listening on"))));
    const senders = await Promise.all(["alice", "bob"].map((name) => run(["send", "lossy", "--as", name], { env, input: numberedLines(name, perSender) })));
    for (const sender of senders) expect(sender.status, sender.stderr).toBe(0);
    for (const listener of listeners) {
      expect(await listener.exited, listener.stderr()).toBe(0);
      const stream = records(listener.lines());
      expect(new Set(stream.map((record) => record.payload)).size).toBe(2 * perSender);
      expect(causalProblems(stream)).toEqual([]);
    }
  }, 120_000);
});
