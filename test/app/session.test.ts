import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ChannelSession } from "../../src/app/session.js";
import type { DeliveredView } from "../../src/app/render.js";
import { MemoryHub } from "../../src/core/relay/memory-hub.js";
import { tempDir } from "../e2e/harness.js";

describe("ChannelSession", () => {
  const dir = tempDir("sds-session-");
  afterAll(() => dir.cleanup());

  it("delivers with dependencies, keeps the participant id, refuses a dialect change and a second writer", async () => {
    const hub = new MemoryHub();
    const open = (identity: string, extra: { dialect?: "spec" | "nim" } = {}) =>
      ChannelSession.open({ channel: "t", identity, dbPath: join(dir.path, `${identity}.db`), transport: hub.connect(), receive: true, storePollIntervalMs: 0, ...extra });
    const alice = await open("alice");
    const bob = await open("bob");
    const got: DeliveredView[] = [];
    bob.onMessage((message) => got.push(message));
    await alice.send(new TextEncoder().encode("one"));
    await alice.send(new TextEncoder().encode("two"));
    for (let tries = 0; tries < 100 && got.length < 2; tries += 1) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(got.map((message) => new TextDecoder().decode(message.payload))).toEqual(["one", "two"]);
    expect(got[1]?.dependencies).toContain(got[0]?.id);
    expect(got[0]?.sender).toBe(alice.participantId);
    await expect(open("alice")).rejects.toMatchObject({ code: "E_STORE_LOCKED" });
    const aliceId = alice.participantId;
    await alice.close();
    await expect(open("alice", { dialect: "nim" })).rejects.toMatchObject({ code: "E_CONFIG_INVALID" });
    const again = await open("alice");
    expect(again.participantId).toBe(aliceId);
    await again.close();
    await bob.close();
  });

  it("a session that polls the relay store leaves the channel's own store sync off (it would re-read the same windows)", async () => {
    const hub = new MemoryHub();
    const open = (identity: string, storePollIntervalMs: number) =>
      ChannelSession.open({ channel: "s", identity, dbPath: join(dir.path, `${identity}-sync.db`), transport: hub.connect(), receive: true, tickIntervalMs: 10, storePollIntervalMs });
    const polling = await open("polling", 20);
    const syncing = await open("syncing", 0);
    const alice = await open("alice-s", 0);
    const got: string[] = [];
    polling.onMessage((message) => got.push(new TextDecoder().decode(message.payload)));
    await alice.send(new TextEncoder().encode("one"));
    // Ticks run every 10 ms: the first one runs the channel's store sync where it is on.
    for (let tries = 0; tries < 100 && (got.length < 1 || syncing.channel.counters.fetchRequests === 0); tries += 1) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(got).toEqual(["one"]);
    expect(syncing.channel.counters.fetchRequests).toBeGreaterThan(0);
    expect(polling.channel.counters.fetchRequests).toBe(0);
    for (const session of [polling, syncing, alice]) await session.close();
  });
});
