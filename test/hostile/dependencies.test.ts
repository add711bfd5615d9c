/**
 * H4 (self- and cyclic dependencies, dependencies never sent) and H5 (buffer flooding) of
 * reliability.md §5.6: nothing is delivered before its dependencies; after the lost-message
 * timeout a `lost` report frees the buffer; the incoming buffer never passes its cap; honest
 * traffic from other peers keeps being delivered.
 */
import { describe, expect, it } from "vitest";
import { START_MS, subject, wire } from "./fixtures.js";

describe("H4: self-dependencies, cycles and dependencies on messages never sent", () => {
  it("a self-reference never blocks or duplicates delivery; with a real missing dependency it waits, then is reported lost", async () => {
    const { manager, clock, of } = subject();
    // The engine treats a self-reference as no dependency (it can never be met); either way the
    // message is delivered exactly once and nothing stays buffered.
    await manager.receive(wire({ messageId: "self", causalHistory: [{ messageId: "self" }] }));
    await manager.receive(wire({ messageId: "self-and-gap", causalHistory: [{ messageId: "self-and-gap" }, { messageId: "gap" }] }));
    for (let step = 0; step < 5; step += 1) {
      clock.nowMs += 1_000;
      await manager.tick();
    }
    expect(of("delivered").map((event) => event.delivered.messageId)).not.toContain("self-and-gap");
    clock.nowMs += 10_000;
    await manager.tick();
    await manager.tick();
    const delivered = of("delivered").map((event) => event.delivered.messageId);
    expect(delivered.filter((id) => id === "self")).toHaveLength(1);
    expect(delivered.filter((id) => id === "self-and-gap")).toHaveLength(1);
    expect(of("lost").flatMap((event) => event.missing.map((entry) => entry.messageId))).toContain("gap");
    expect(manager.inspect("chan")?.incoming.size).toBe(0);
  });

  it("an A↔B cycle is never delivered early, and both are released with lost reports after the timeout", async () => {
    const { manager, clock, of } = subject();
    await manager.receive(wire({ messageId: "A", causalHistory: [{ messageId: "B" }] }));
    await manager.receive(wire({ messageId: "B", causalHistory: [{ messageId: "A" }] }));
    clock.nowMs += 5_000;
    await manager.tick();
    expect(of("delivered")).toEqual([]);
    clock.nowMs += 10_000;
    for (let step = 0; step < 3; step += 1) await manager.tick();
    const delivered = of("delivered").map((event) => event.delivered.messageId).sort();
    expect(delivered).toEqual(["A", "B"]);
    expect(of("lost").length).toBeGreaterThan(0);
    expect(manager.inspect("chan")?.incoming.size).toBe(0);
  });

  it("a dependency on an id nobody sent is asked for (repair), then reported lost; later arrivals are not duplicates", async () => {
    const { manager, clock, of } = subject();
    await manager.receive(wire({ messageId: "child", causalHistory: [{ messageId: "never-sent", senderId: "ghost" }] }));
    expect(of("missing")).toHaveLength(1);
    clock.nowMs += 11_000;
    await manager.tick();
    expect(of("lost").flatMap((event) => event.missing.map((entry) => entry.messageId))).toContain("never-sent");
    expect(of("delivered").map((event) => event.delivered.messageId)).toEqual(["child"]);
  });
});

describe("H5: buffer flooding", () => {
  it("20,000 messages with unresolvable dependencies keep the buffer at its cap; honest messages are still delivered", async () => {
    const cap = 500;
    const { manager, of } = subject("me", "spec", { incomingBufferEntriesMax: cap });
    const batch: Uint8Array[] = [];
    let honestDelivered = 0;
    for (let index = 0; index < 20_000; index += 1) {
      batch.push(wire({ messageId: `flood-${index}`, senderId: "attacker", causalHistory: [{ messageId: `nowhere-${index}` }] }));
      if (batch.length === 1_000) {
        await manager.receiveMany(batch.splice(0));
        expect(manager.inspect("chan")?.incoming.size ?? 0).toBeLessThanOrEqual(cap);
        const honest = await manager.receive(wire({ messageId: `honest-${index}`, senderId: "honest", lamportTimestamp: BigInt(START_MS + index) }));
        honestDelivered += honest.delivered.filter((delivered) => delivered.senderId === "honest").length;
      }
    }
    expect(honestDelivered).toBe(20);
    expect(manager.inspect("chan")?.incoming.size).toBe(cap);
    // Every eviction is reported, never silent.
    expect(of("evicted").filter((event) => event.buffer === "incoming")).toHaveLength(20_000 - cap);
  }, 60_000);
});
