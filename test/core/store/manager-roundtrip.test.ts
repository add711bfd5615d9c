/**
 * Manager-level restart round trip on the SQLite store, in both dialects: state built by
 * real ReliabilityManager operations survives closing and reopening the database exactly,
 * and the restarted managers carry on from it (lamport moves forward, buffered messages are
 * delivered when their dependency arrives, unacknowledged messages get acknowledged).
 */
import { afterEach, describe, expect, it } from "vitest";
import { ReliabilityManager } from "../../../src/core/reliability-manager.js";
import type { ChannelData } from "../../../src/core/store/contract.js";
import { SqlitePersistence } from "../../../src/core/store/sqlite.js";
import { cleanTemp, must, tempDb } from "./helpers.js";

afterEach(cleanTemp);
const text = (value: string) => new TextEncoder().encode(value);

describe.each(["spec", "nim"] as const)("ReliabilityManager over SqlitePersistence (%s dialect)", (dialect) => {
  it("restores exactly after a restart and carries on", async () => {
    const aliceDb = tempDb("alice.db");
    const bobDb = tempDb("bob.db");
    let now = 1_700_000_000_000;
    const clock = () => now;
    let aliceStore = must(SqlitePersistence.open(aliceDb));
    let bobStore = must(SqlitePersistence.open(bobDb));
    let alice = new ReliabilityManager({ participantId: "alice", dialect, persistence: aliceStore, now: clock, random: () => 0.5 });
    let bob = new ReliabilityManager({ participantId: "bob", dialect, persistence: bobStore, now: clock, random: () => 0.5 });
    const sent = [];
    for (let i = 1; i <= 4; i++) {
      now += 1000;
      sent.push(await alice.send("room", text(`hello ${i}`)));
    }
    // bob gets 1, 3 and 4 but not 2: 3 waits for 2
    for (const index of [0, 2, 3]) await bob.receive((sent[index] as { wire: Uint8Array }).wire);
    const aliceBefore = must(await aliceStore.loadChannel("room")) as ChannelData;
    const bobBefore = must(await bobStore.loadChannel("room")) as ChannelData;
    expect(aliceBefore.meta.outgoingBuffer.length).toBe(4);
    expect(bobBefore.meta.incomingBuffer.length).toBeGreaterThan(0);

    await aliceStore.close();
    await bobStore.close();
    aliceStore = must(SqlitePersistence.open(aliceDb));
    bobStore = must(SqlitePersistence.open(bobDb));
    expect(must(await aliceStore.loadChannel("room"))).toEqual(aliceBefore);
    expect(must(await bobStore.loadChannel("room"))).toEqual(bobBefore);

    alice = new ReliabilityManager({ participantId: "alice", dialect, persistence: aliceStore, now: clock, random: () => 0.5 });
    bob = new ReliabilityManager({ participantId: "bob", dialect, persistence: bobStore, now: clock, random: () => 0.5 });
    const late = await bob.receive((sent[1] as { wire: Uint8Array }).wire);
    expect(late.delivered.map((d) => d.messageId)).toContain((sent[1] as { messageId: string }).messageId);
    expect(late.delivered.length).toBeGreaterThanOrEqual(2);
    now += 1000;
    const reply = await bob.send("room", text("got them"));
    const ack = await alice.receive(reply.wire);
    expect(ack.acknowledged.length).toBeGreaterThan(0);
    now += 1000;
    await alice.send("room", text("after restart"));
    const aliceAfter = must(await aliceStore.loadChannel("room")) as ChannelData;
    expect(aliceAfter.meta.lamportTimestamp).toBeGreaterThan(aliceBefore.meta.lamportTimestamp);
    expect(aliceAfter.history.length).toBe(aliceBefore.history.length + 2);
    await aliceStore.close();
    await bobStore.close();
  });
});
