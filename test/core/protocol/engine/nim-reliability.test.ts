/**
 * The nim-sds `test_reliability.nim` scenarios (reliability.md §4.1) in the nim dialect,
 * through the ReliabilityManager. Where we deliberately go beyond nim-sds the test says so.
 */
import { describe, expect, it } from "vitest";
import { getDialect } from "../../../../src/core/protocol/dialect.js";
import { decodeMessage, encodeMessage } from "../../../../src/core/protocol/wire/index.js";
import type { HistoryEntry, SdsMessage } from "../../../../src/core/protocol/types.js";
import { ReliabilityManager } from "../../../../src/core/reliability-manager.js";
import { bytes, FakeClock, TestBus, text } from "./support.js";

const CHANNEL = "nim-channel";
const nim = { dialect: "nim" as const };

function nimMessage(overrides: Partial<SdsMessage> & { messageId: string }): Uint8Array {
  return encodeMessage({ senderId: "carol", channelId: CHANNEL, lamportTimestamp: 1n, causalHistory: [], content: bytes(overrides.messageId), repairRequest: [], ...overrides }, nim);
}

function trio(config = {}) {
  const bus = new TestBus(new FakeClock(), { dialect: "nim", config });
  return { bus, alice: bus.add("alice"), bob: bus.add("bob"), clock: bus.clock };
}

describe("nim-sds test_reliability scenarios (nim dialect)", () => {
  describe("Core Operations", () => {
    it("can create with default config", () => {
      const manager = new ReliabilityManager({ participantId: "p", dialect: "nim" });
      expect(manager.config).toMatchObject({ causalHistorySize: 10, historyEntriesMax: 1000, resendIntervalMs: 60_000, maxResendAttempts: 5, repairTMinMs: 30_000, repairTMaxMs: 300_000, bloomAckThreshold: 1 });
    });

    it("basic message wrapping and unwrapping, with a non-empty bloom filter", async () => {
      const { alice, bob } = trio();
      const sent = await alice.send(CHANNEL, bytes("hello"));
      const decoded = decodeMessage(sent.wire, nim);
      expect(decoded.bloomFilter!.length).toBeGreaterThan(0);
      const received = await bob.receive(sent.wire);
      expect(received.delivered.map((delivered) => text(delivered.content))).toEqual(["hello"]);
      expect(received.channelId).toBe(CHANNEL);
    });

    it("message ordering: lamport is max(nowSeconds, ts)+1 on send and max(msgTs, ts)+1 on receive", async () => {
      const { alice, bob, clock } = trio();
      const first = decodeMessage((await alice.send(CHANNEL, bytes("1"))).wire, nim);
      expect(first.lamportTimestamp).toBe(BigInt(Math.floor(clock.nowMs / 1000) + 1));
      const second = decodeMessage((await alice.send(CHANNEL, bytes("2"))).wire, nim);
      expect(second.lamportTimestamp).toBe(first.lamportTimestamp! + 1n);
      await bob.receive(encodeMessage(second, nim));
      expect(bob.inspect(CHANNEL)!.lamport).toBe(Number(second.lamportTimestamp) + 1);
    });
  });

  describe("Reliability Mechanisms", () => {
    it("dependency detection and resolution", async () => {
      const { alice, bob } = trio();
      const one = await alice.send(CHANNEL, bytes("one"));
      const two = await alice.send(CHANNEL, bytes("two"));
      const early = await bob.receive(two.wire);
      expect(early.missing.map((entry) => entry.messageId)).toEqual([one.messageId]);
      const late = await bob.receive(one.wire);
      expect(late.delivered.map((delivered) => text(delivered.content))).toEqual(["one", "two"]);
    });

    it("acknowledgment via causal history", async () => {
      const { alice, bob } = trio();
      const one = await alice.send(CHANNEL, bytes("one"));
      await bob.receive(one.wire);
      expect((await alice.receive((await bob.send(CHANNEL, bytes("r"))).wire)).acknowledged).toEqual([one.messageId]);
    });

    it("acknowledgment via bloom filter: a single hit suffices in the nim dialect", async () => {
      const { alice, bob } = trio({ causalHistorySize: 0 });
      const one = await alice.send(CHANNEL, bytes("one"));
      await bob.receive(one.wire);
      expect((await alice.receive((await bob.send(CHANNEL, bytes("r"))).wire)).acknowledged).toEqual([one.messageId]);
    });

    it("outgoing message bloom snapshot reflects channel state", async () => {
      const { alice, bob } = trio();
      const one = await alice.send(CHANNEL, bytes("one"));
      await bob.receive(one.wire);
      const reply = decodeMessage((await bob.send(CHANNEL, bytes("r"))).wire, nim);
      const { BloomFilter } = await import("../../../../src/core/protocol/bloom/index.js");
      const filter = BloomFilter.fromBytes(reply.bloomFilter!, { dialect: "nim" });
      expect(filter.has(one.messageId)).toBe(true);
      expect(filter.has("never-sent")).toBe(false);
    });

    it("retrieval hints are carried in causal history", async () => {
      const { alice, bob } = trio();
      const one = await alice.send(CHANNEL, bytes("one"));
      await bob.receive(one.wire, { retrievalHint: new Uint8Array([7, 7]) });
      const reply = decodeMessage((await bob.send(CHANNEL, bytes("r"))).wire, nim);
      expect(reply.causalHistory[0]!.retrievalHint).toEqual(new Uint8Array([7, 7]));
    });
  });

  describe("Periodic Tasks & Buffer Management", () => {
    it("outgoing buffer management: resends the same bytes every resendIntervalMs, then reports undelivered", async () => {
      const { alice, clock } = trio();
      const sent = await alice.send(CHANNEL, bytes("lonely"));
      const resends: Uint8Array[] = [];
      for (let attempt = 0; attempt < alice.config.maxResendAttempts; attempt++) {
        clock.advance(alice.config.resendIntervalMs);
        resends.push(...(await alice.tick()).wire);
      }
      expect(resends).toHaveLength(alice.config.maxResendAttempts);
      for (const wire of resends) expect(Buffer.from(wire).equals(Buffer.from(sent.wire))).toBe(true);
      clock.advance(alice.config.resendIntervalMs);
      const last = await alice.tick();
      expect(last.undelivered).toEqual([sent.messageId]);
      expect(alice.inspect(CHANNEL)!.outgoing.size).toBe(0);
    });

    it("periodic buffer sweep and bloom clean (rolling filter at 120 % of capacity)", async () => {
      const { bob } = trio({ bloomCapacity: 10, historyEntriesMax: 100 });
      for (let index = 0; index < 13; index++) await bob.receive(nimMessage({ messageId: `m${index}`, lamportTimestamp: BigInt(index + 1) }));
      const state = bob.inspect(CHANNEL)!;
      // capacity 10: clean after 12 ids, keeping the newest 8.
      expect(state.bloom.has("m12")).toBe(true);
      expect(state.bloom.has("m5")).toBe(true);
      expect(state.history.size).toBe(13);
    });

    it("periodic sync callback: a periodicSync event, no wire (nim has no sync messages)", async () => {
      const { alice, clock } = trio();
      await alice.send(CHANNEL, bytes("one"));
      const events: string[] = [];
      alice.on("periodicSync", () => events.push("sync"));
      clock.advance(alice.config.syncIntervalMs);
      const tick = await alice.tick();
      expect(events).toEqual(["sync"]);
      expect(tick.wire).toEqual([]);
    });
  });

  describe("Special Cases Handling", () => {
    it("message history limits: history ≤ historyEntriesMax, newest kept, evictions reported", async () => {
      const { alice } = trio({ historyEntriesMax: 5 });
      const evicted: string[] = [];
      alice.on("evicted", (event: { buffer: string; messageId: string }) => event.buffer === "history" && evicted.push(event.messageId));
      const ids: string[] = [];
      for (let index = 0; index < 8; index++) ids.push((await alice.send(CHANNEL, bytes(`m${index}`))).messageId);
      expect(alice.inspect(CHANNEL)!.history.ids()).toEqual(ids.slice(3));
      expect(evicted).toEqual(ids.slice(0, 3));
    });

    it("invalid bloom filter handling: 3 garbage bytes, receive OK, no missing deps, an invalidBloom event", async () => {
      const { alice, bob } = trio();
      await alice.send(CHANNEL, bytes("pending"));
      const events: string[] = [];
      alice.on("invalidBloom", () => events.push("invalid"));
      const result = await alice.receive(nimMessage({ messageId: "garbage", bloomFilter: new Uint8Array([1, 2, 3]) }));
      expect(result.missing).toEqual([]);
      expect(result.delivered).toHaveLength(1);
      expect(events).toEqual(["invalid"]);
      expect(bob).toBeDefined();
    });

    it("duplicate message handling: same bytes twice, delivered once", async () => {
      const { alice, bob } = trio();
      const sent = await alice.send(CHANNEL, bytes("once"));
      expect((await bob.receive(sent.wire)).delivered).toHaveLength(1);
      const again = await bob.receive(sent.wire);
      expect(again.duplicate).toBe(true);
      expect(again.delivered).toEqual([]);
    });

    it("error handling: empty content and content above 1 MiB are refused with typed errors", async () => {
      const { alice } = trio();
      await expect(alice.send(CHANNEL, new Uint8Array(0))).rejects.toMatchObject({ code: "E_PAYLOAD_EMPTY" });
      await expect(alice.send(CHANNEL, new Uint8Array(1024 * 1024 + 1))).rejects.toMatchObject({ code: "E_PAYLOAD_TOO_LARGE" });
      await expect(alice.send(CHANNEL, bytes("x"), { ephemeral: true })).rejects.toMatchObject({ code: "E_USAGE" });
    });
  });

  describe("Multi-Channel ReliabilityManager", () => {
    it("channel isolation and stateless unwrapping with channel extraction", async () => {
      const { alice, bob } = trio();
      const a1 = await alice.send("a", bytes("a1"));
      await alice.send("b", bytes("b1"));
      const b2 = await alice.send("b", bytes("b2"));
      expect((await bob.receive(a1.wire)).channelId).toBe("a");
      const onB = await bob.receive(b2.wire);
      expect(onB.channelId).toBe("b");
      expect(onB.missing).toHaveLength(1);
      expect(bob.inspect("a")!.incoming.size).toBe(0);
      expect(bob.inspect("a")!.history.ids()).toEqual([a1.messageId]);
    });

    it("a receive restricted to one channel ignores messages of another", async () => {
      const { alice, bob } = trio();
      const other = await alice.send("other", bytes("x"));
      const result = await bob.receive(other.wire, { channelId: "mine" });
      expect(result.ignored).toBe(true);
      expect(bob.loadedChannels()).toEqual([]);
    });
  });

  describe("SDS-R computation", () => {
    it("T_req lies in [tMin, tMax) and the original sender answers first", async () => {
      const { computeTReqOffsetMs, computeTRespOffsetMs } = await import("../../../../src/core/protocol/repair-timing.js");
      for (let index = 0; index < 50; index++) {
        const offset = computeTReqOffsetMs("nim", `p${index}`, `m${index}`, 30_000, 300_000);
        expect(offset).toBeGreaterThanOrEqual(30_000);
        expect(offset).toBeLessThan(300_000);
      }
      expect(computeTRespOffsetMs("nim", "s", "s", "m", 300_000)).toBe(0);
      expect(getDialect("nim").name).toBe("nim");
    });
  });

  describe("SDS-R: Repair Buffer Management", () => {
    it("missing deps are added to the outgoing repair buffer; receiving the message clears them", async () => {
      const { alice, bob } = trio();
      const one = await alice.send(CHANNEL, bytes("one"));
      await bob.receive((await alice.send(CHANNEL, bytes("two"))).wire);
      expect([...bob.inspect(CHANNEL)!.outgoingRepair.keys()]).toEqual([one.messageId]);
      await bob.receive(one.wire);
      expect(bob.inspect(CHANNEL)!.outgoingRepair.size).toBe(0);
    });

    it("markDependenciesMet clears repair buffers and delivers what waited", async () => {
      const { alice, bob } = trio();
      const one = await alice.send(CHANNEL, bytes("one"));
      await bob.receive((await alice.send(CHANNEL, bytes("two"))).wire);
      const delivered = await bob.markDependenciesMet(CHANNEL, [one.messageId]);
      expect(delivered.map((message) => text(message.content))).toEqual(["two"]);
      expect(bob.inspect(CHANNEL)!.outgoingRepair.size).toBe(0);
      expect(bob.inspect(CHANNEL)!.bloom.has(one.messageId)).toBe(true);
    });

    it("expired repair requests are attached to outgoing messages, the most overdue first when capped", async () => {
      const { bob, clock } = trio();
      const deps: HistoryEntry[] = ["a", "b", "c", "d", "e"].map((messageId) => ({ messageId, senderId: "carol" }));
      await bob.receive(nimMessage({ messageId: "m", causalHistory: deps }));
      const due = [...bob.inspect(CHANNEL)!.outgoingRepair.values()].sort((x, y) => x.minTimeRepairReqMs - y.minTimeRepairReqMs);
      clock.advance(bob.config.repairTMaxMs);
      const carrier = decodeMessage((await bob.send(CHANNEL, bytes("carrier"))).wire, nim);
      expect(carrier.repairRequest.map((entry) => entry.messageId)).toEqual(due.slice(0, 3).map((entry) => entry.entry.messageId));
    });

    it("an incoming repair request adds to the incoming repair buffer when eligible; empty senderId is ignored", async () => {
      const { alice, bob } = trio();
      const one = await alice.send(CHANNEL, bytes("one"));
      await bob.receive(one.wire);
      await bob.receive(nimMessage({ messageId: "ask1", repairRequest: [{ messageId: one.messageId }] }));
      expect(bob.inspect(CHANNEL)!.incomingRepair.size).toBe(0);
      await bob.receive(nimMessage({ messageId: "ask2", repairRequest: [{ messageId: one.messageId, senderId: "alice" }] }));
      expect([...bob.inspect(CHANNEL)!.incomingRepair.keys()]).toEqual([one.messageId]);
    });

    it("duplicate message arrival cancels a pending incoming repair entry", async () => {
      const { alice, bob } = trio();
      const one = await alice.send(CHANNEL, bytes("one"));
      await bob.receive(one.wire);
      await bob.receive(nimMessage({ messageId: "ask", repairRequest: [{ messageId: one.messageId, senderId: "alice" }] }));
      await bob.receive(one.wire);
      expect(bob.inspect(CHANNEL)!.incomingRepair.size).toBe(0);
    });

    it("wrapOutgoingMessage records the message in history with our senderId; SDS-R state is per channel", async () => {
      const { alice } = trio();
      const sent = await alice.send("x", bytes("mine"));
      expect(alice.inspect("x")!.history.get(sent.messageId)!.entry.senderId).toBe("alice");
      expect(alice.inspect("y")).toBeUndefined();
    });

    it("reset clears all SDS-R state", async () => {
      const { alice, bob } = trio();
      await alice.send(CHANNEL, bytes("one"));
      await bob.receive((await alice.send(CHANNEL, bytes("two"))).wire);
      await bob.reset();
      expect(bob.loadedChannels()).toEqual([]);
    });
  });

  describe("SDS-R: Repair Sweep", () => {
    it("answers due requests and abandons our own requests past their deadline (ours: re-asked with back-off first)", async () => {
      const { bob, clock } = trio();
      const abandoned: string[] = [];
      bob.on("repairAbandoned", (event: { messageId: string }) => abandoned.push(event.messageId));
      await bob.receive(nimMessage({ messageId: "m", causalHistory: [{ messageId: "gone", senderId: "carol" }] }));
      const asks: number[] = [];
      for (let step = 0; step < 200 && abandoned.length === 0; step++) {
        clock.advance(30_000);
        const wire = (await bob.send(CHANNEL, bytes(`carrier${step}`))).wire;
        if (decodeMessage(wire, nim).repairRequest.length > 0) asks.push(step);
        await bob.tick();
      }
      expect(asks.length).toBe(bob.config.repairAttemptsMax);
      expect(abandoned).toEqual(["gone"]);
    });

    it("is a no-op when buffers are empty", async () => {
      const { bob } = trio();
      expect((await bob.tick()).wire).toEqual([]);
    });
  });

  describe("SDS-R: Multi-Participant Integration", () => {
    it("basic single-gap repair: Bob misses Alice's message, Carol's message reveals it, Carol rebroadcasts once", async () => {
      const bus = new TestBus(new FakeClock(), { dialect: "nim" });
      bus.add("alice");
      bus.add("bob");
      bus.add("carol");
      let dropForBob = true;
      bus.drop = (from, to) => dropForBob && from === "alice" && to === "bob";
      await bus.send("alice", CHANNEL, "gap");
      dropForBob = false;
      await bus.send("carol", CHANNEL, "reveals the gap");
      expect(bus.texts("bob")).toEqual([]);
      const before = bus.wireLog.length;
      for (let step = 0; step < 30 && bus.texts("bob").length < 2; step++) {
        bus.clock.advance(10_000);
        await bus.send("bob", CHANNEL, `bob ${step}`);
        await bus.tick();
      }
      expect(bus.texts("bob").slice(0, 2)).toEqual(["gap", "reveals the gap"]);
      const rebroadcasts = bus.wireLog.slice(before).filter(({ from, wire }) => from !== "bob" && decodeMessage(wire, nim).content !== undefined && text(decodeMessage(wire, nim).content!) === "gap");
      expect(rebroadcasts).toHaveLength(1);
    });

    it("response group filtering: with many groups only group members schedule an answer", async () => {
      const bus = new TestBus(new FakeClock(), { dialect: "nim", config: { repairResponseGroups: 64 } });
      const peers = Array.from({ length: 8 }, (_, index) => bus.add(`peer${index}`));
      const sent = await peers[0]!.send(CHANNEL, bytes("x"));
      for (const peer of peers.slice(1)) await peer.receive(sent.wire);
      const ask = nimMessage({ messageId: "ask", senderId: "stranger", repairRequest: [{ messageId: sent.messageId, senderId: "peer0" }] });
      for (const peer of peers) await peer.receive(ask);
      const scheduled = peers.filter((peer) => peer.inspect(CHANNEL)!.incomingRepair.size > 0).length;
      expect(scheduled).toBeLessThan(peers.length);
      expect(peers[0]!.inspect(CHANNEL)!.incomingRepair.size).toBe(1); // the sender is always in its own group
    });

    it("hostile repair requests cannot amplify: at most repairResponsesPerMessageMax answers per id per window", async () => {
      const bus = new TestBus(new FakeClock(), { dialect: "nim" });
      const alice = bus.add("alice");
      const sent = await alice.send(CHANNEL, bytes("x"));
      let answers = 0;
      for (let round = 0; round < 10; round++) {
        await alice.receive(nimMessage({ messageId: `ask${round}`, senderId: "mallory", repairRequest: [{ messageId: sent.messageId, senderId: "alice" }] }));
        answers += (await alice.tick()).wire.filter((wire) => decodeMessage(wire, nim).messageId === sent.messageId).length;
      }
      expect(answers).toBe(alice.config.repairResponsesPerMessageMax);
    });
  });
});
