/**
 * S9 in the simulator (reliability.md §5.2): a crash inside a SQLite transaction leaves the
 * reopened store exactly as before the commit. The unit case shows the torn commit really ran
 * writes inside the transaction and that the comparison would see a landed commit; the world
 * case runs F7 seeds on SQLite files, where armed before-commit crashes tear real commits and the
 * world checks every touched channel at the restart.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ChannelDelta } from "../../src/core/store/contract.js";
import { runSeed } from "./campaign.js";
import { canonicalChannel, openSqliteStore, tornCommit } from "./sqlite-backing.js";

function lamportDelta(lamport: bigint): ChannelDelta {
  const none = { upsert: [], remove: [] };
  return {
    channelId: "s9", lamportTimestamp: lamport, outgoing: none, incoming: none, outgoingRepair: none, incomingRepair: none,
    history: { append: [], evict: [] }, retrievalHints: [],
  };
}

describe("S9: crash inside a transaction", () => {
  const directories: string[] = [];
  afterEach(() => {
    for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
  });

  it("a torn SQLite commit ran writes, then left the reopened store as before; a landed one changes it", async () => {
    const directory = mkdtempSync(join(tmpdir(), "sds-sim-s9-"));
    directories.push(directory);
    const path = join(directory, "peer.db");
    let store = await openSqliteStore(path);
    expect((await store.commit([lamportDelta(5n)])).ok).toBe(true);
    const loaded = await store.loadChannel("s9");
    expect(loaded.ok).toBe(true);
    const before = canonicalChannel(loaded.ok ? loaded.value : undefined);
    let outcome: unknown;
    const ran = await tornCommit(store, async () => {
      outcome = await store.commit([lamportDelta(9n)]);
    }, 1);
    expect(ran).toBe(1);
    expect((outcome as { ok: boolean }).ok).toBe(false);
    await store.close();
    store = await openSqliteStore(path);
    const afterTorn = await store.loadChannel("s9");
    expect(afterTorn.ok && canonicalChannel(afterTorn.value)).toBe(before);
    expect((await store.commit([lamportDelta(9n)])).ok).toBe(true);
    await store.close();
    store = await openSqliteStore(path);
    const afterLanded = await store.loadChannel("s9");
    expect(afterLanded.ok && canonicalChannel(afterLanded.value)).not.toBe(before);
    await store.close();
  });

  it("F7 seeds on SQLite files tear real commits and every torn channel is checked at restart", async () => {
    let torn = 0;
    let checked = 0;
    for (let seed = 1; seed <= 5; seed += 1) {
      const outcome = await runSeed({ seed, policy: "write-before-release", store: "sqlite", scenario: "F7" }, false);
      expect(outcome.failures.map((failure) => `${failure.invariant} ${failure.message}`), `seed ${seed}`).toEqual([]);
      torn += outcome.counters.get("crash.inside-transaction");
      checked += outcome.counters.get("check.s9.torn-commit-channels");
    }
    expect(torn).toBeGreaterThan(0);
    expect(checked).toBeGreaterThanOrEqual(torn);
  }, 120_000);
});
