/**
 * The js-waku `message_channel.spec.ts` / `lamport_timestamp.spec.ts` / `repair/buffers.spec.ts`
 * scenarios (reliability.md §4.2), in the spec dialect, against our engine through the
 * ReliabilityManager. Where we deliberately differ from js-waku the test says so.
 */
import { describe, expect, it } from "vitest";
import { getDialect } from "../../../../src/core/protocol/dialect.js";
import { decodeMessage, encodeMessage } from "../../../../src/core/protocol/wire/index.js";
import { ReliabilityManager } from "../../../../src/core/reliability-manager.js";
import { bytes, FakeClock, TestBus, text } from "./support.js";

const CHANNEL = "test-channel";

function pair(config = {}) {
  const bus = new TestBus(new FakeClock(), { config });
  const alice = bus.add("alice");
  const bob = bus.add("bob");
  return { bus, alice, bob, clock: bus.clock };
}

describe("js-waku MessageChannel scenarios (spec dialect)", () => {
  describe("sending a message", () => {
    it("should increase lamport timestamp", async () => {
      const { alice, clock } = pair();
      const first = decodeMessage((await alice.send(CHANNEL, bytes("one"))).wire, { dialect: "spec" });
      const second = decodeMessage((await alice.send(CHANNEL, bytes("two"))).wire, { dialect: "spec" });
      // The clock starts at `now` when the channel is created, so the first send is max(now, now + 1).
      expect(first.lamportTimestamp).toBe(BigInt(clock.nowMs) + 1n);
      expect(second.lamportTimestamp).toBe(first.lamportTimestamp! + 1n);
    });

    it("should push the message to the outgoing buffer and insert it into the bloom filter", async () => {
      const { alice } = pair();
      const sent = await alice.send(CHANNEL, bytes("hello"));
      const state = alice.inspect(CHANNEL)!;
      expect([...state.outgoing.keys()]).toEqual([sent.messageId]);
      expect(state.bloom.has(sent.messageId)).toBe(true);
    });

    it("should insert message id into causal history and attach causal history and bloom filter", async () => {
      const { alice } = pair();
      const first = await alice.send(CHANNEL, bytes("one"));
      const second = decodeMessage((await alice.send(CHANNEL, bytes("two"))).wire, { dialect: "spec" });
      expect(second.causalHistory.map((entry) => entry.messageId)).toEqual([first.messageId]);
      expect(second.causalHistory[0]!.senderId).toBe("alice");
      expect(second.bloomFilter?.length).toBe(18_752);
    });

    it("should add sent message to local history", async () => {
      const { alice } = pair();
      const sent = await alice.send(CHANNEL, bytes("one"));
      expect(alice.inspect(CHANNEL)!.history.ids()).toEqual([sent.messageId]);
    });
  });

  describe("receiving a message", () => {
    it("should increase lamport timestamp to the delivered message's", async () => {
      const { bus, alice, bob, clock } = pair();
      clock.advance(5_000);
      const sent = await alice.send(CHANNEL, bytes("later"));
      clock.advance(-5_000);
      await bob.receive(sent.wire);
      expect(bob.inspect(CHANNEL)!.lamport).toBe(Number(decodeMessage(sent.wire, { dialect: "spec" }).lamportTimestamp));
      expect(bob.inspect(CHANNEL)!.lamport).toBeGreaterThan(clock.nowMs + 5_000);
      expect(bus).toBeDefined();
    });

    it("should add received messages to bloom filter and local history with retrieval hint", async () => {
      const { alice, bob } = pair();
      const sent = await alice.send(CHANNEL, bytes("hi"));
      const hint = new Uint8Array([1, 2, 3]);
      const received = await bob.receive(sent.wire, { retrievalHint: hint });
      expect(received.delivered[0]!.retrievalHint).toEqual(hint);
      const state = bob.inspect(CHANNEL)!;
      expect(state.bloom.has(sent.messageId)).toBe(true);
      expect(state.history.get(sent.messageId)!.entry.retrievalHint).toEqual(hint);
      const reply = decodeMessage((await bob.send(CHANNEL, bytes("re"))).wire, { dialect: "spec" });
      expect(reply.causalHistory[0]).toEqual({ messageId: sent.messageId, senderId: "alice", retrievalHint: hint });
    });

    it("should add to incoming buffer if dependencies are not met", async () => {
      const { alice, bob } = pair();
      const first = await alice.send(CHANNEL, bytes("one"));
      const second = await alice.send(CHANNEL, bytes("two"));
      const result = await bob.receive(second.wire);
      expect(result.delivered).toEqual([]);
      expect(result.missing.map((entry) => entry.messageId)).toEqual([first.messageId]);
      expect([...bob.inspect(CHANNEL)!.incoming.keys()]).toEqual([second.messageId]);
    });

    it("should maintain chronological order of messages in local history, ties by message id", async () => {
      const { bob } = pair();
      const make = (id: string, lamport: bigint) =>
        encodeMessage({ senderId: "carol", messageId: id, channelId: CHANNEL, lamportTimestamp: lamport, causalHistory: [], content: bytes(id), repairRequest: [] }, { dialect: "spec" });
      for (const [id, lamport] of [["c", 3n], ["b", 2n], ["z", 1n], ["a", 2n]] as const) await bob.receive(make(id, lamport));
      expect(bob.inspect(CHANNEL)!.history.ids()).toEqual(["z", "a", "b", "c"]);
    });
  });

  describe("reviewing ack status", () => {
    it("should mark all messages in causal history as acknowledged", async () => {
      const { alice, bob } = pair();
      const one = await alice.send(CHANNEL, bytes("one"));
      const two = await alice.send(CHANNEL, bytes("two"));
      await bob.receive(one.wire);
      await bob.receive(two.wire);
      const reply = await bob.send(CHANNEL, bytes("reply"));
      const result = await alice.receive(reply.wire);
      expect(result.acknowledged.sort()).toEqual([one.messageId, two.messageId].sort());
      expect(alice.inspect(CHANNEL)!.outgoing.size).toBe(0);
    });

    it("should not mark a message acknowledged by our own echo", async () => {
      const { alice } = pair();
      const one = await alice.send(CHANNEL, bytes("one"));
      const two = await alice.send(CHANNEL, bytes("two"));
      const echo = await alice.receive(two.wire);
      expect(echo.duplicate).toBe(true);
      expect(alice.inspect(CHANNEL)!.outgoing.has(one.messageId)).toBe(true);
    });

    it("should track probabilistic acknowledgements in the bloom filter, acknowledging at the threshold (2)", async () => {
      const { alice, bob } = pair({ causalHistorySize: 0 });
      const events: string[] = [];
      alice.on("possiblyAcknowledged", () => events.push("possibly"));
      alice.on("acknowledged", (event: { by: string }) => events.push(`ack:${event.by}`));
      const sent = await alice.send(CHANNEL, bytes("one"));
      await bob.receive(sent.wire);
      await alice.receive((await bob.send(CHANNEL, bytes("r1"))).wire);
      expect(events).toEqual(["possibly"]);
      await alice.receive((await bob.send(CHANNEL, bytes("r2"))).wire);
      expect(events).toEqual(["possibly", "ack:bloom"]);
    });

    it("should not track probabilistic acks of own messages", async () => {
      const { alice } = pair({ causalHistorySize: 0 });
      const one = await alice.send(CHANNEL, bytes("one"));
      await alice.receive((await alice.send(CHANNEL, bytes("two"))).wire);
      expect(alice.inspect(CHANNEL)!.outgoing.get(one.messageId)!.possibleAckCount).toBe(0);
    });

    it("first message is missed, then re-sent, should be acknowledged", async () => {
      const { bus, alice, clock } = pair();
      bus.drop = (_from, _to, wire) => decodeMessage(wire, { dialect: "spec" }).content !== undefined && text(decodeMessage(wire, { dialect: "spec" }).content!) === "first" && !resent;
      let resent = false;
      const first = await bus.send("alice", CHANNEL, "first");
      clock.advance(alice.config.resendIntervalMs);
      resent = true;
      await bus.tick();
      expect(bus.texts("bob")).toEqual(["first"]);
      await bus.send("bob", CHANNEL, "ack it");
      expect(alice.inspect(CHANNEL)!.outgoing.has(first)).toBe(false);
    });
  });

  describe("sweeping the incoming buffer", () => {
    it("should deliver messages after dependencies are met, in causal order", async () => {
      const { alice, bob } = pair();
      const one = await alice.send(CHANNEL, bytes("one"));
      const two = await alice.send(CHANNEL, bytes("two"));
      const three = await alice.send(CHANNEL, bytes("three"));
      await bob.receive(three.wire);
      await bob.receive(two.wire);
      const result = await bob.receive(one.wire);
      expect(result.delivered.map((delivered) => text(delivered.content))).toEqual(["one", "two", "three"]);
    });

    it("should mark dependencies irretrievably lost after the timeout, report them with their retrieval hint, and deliver anyway", async () => {
      const { alice, bob, clock } = pair({ lostMessageTimeoutMs: 60_000, syncIntervalMs: 0 });
      const hint = new Uint8Array([9]);
      await alice.receive(encodeMessage({ senderId: "carol", messageId: "c1", channelId: CHANNEL, lamportTimestamp: 1n, causalHistory: [], content: bytes("c"), repairRequest: [] }, { dialect: "spec" }), { retrievalHint: hint });
      const lostOne = await alice.send(CHANNEL, bytes("lost"));
      const two = await alice.send(CHANNEL, bytes("two"));
      expect(lostOne).toBeDefined();
      await bob.receive(two.wire);
      clock.advance(60_000);
      const tick = await bob.tick();
      expect(tick.lost.map((entry) => entry.messageId).sort()).toEqual(["c1", lostOne.messageId].sort());
      expect(tick.lost.find((entry) => entry.messageId === "c1")!.retrievalHint).toEqual(hint);
      expect(tick.delivered.map((delivered) => text(delivered.content))).toEqual(["two"]);
    });

    it("should return missing entries with undefined retrieval hint when none is known", async () => {
      const { alice, bob } = pair();
      await alice.send(CHANNEL, bytes("one"));
      const result = await bob.receive((await alice.send(CHANNEL, bytes("two"))).wire);
      expect(result.missing[0]!.retrievalHint).toBeUndefined();
    });
  });

  describe("sweeping the outgoing buffer", () => {
    it("partitions messages by acknowledgement status (possibleAckCount)", async () => {
      const { alice, bob } = pair({ causalHistorySize: 0 });
      const one = await alice.send(CHANNEL, bytes("one"));
      const two = await alice.send(CHANNEL, bytes("two"));
      await bob.receive(one.wire);
      await alice.receive((await bob.send(CHANNEL, bytes("r"))).wire);
      const outgoing = alice.inspect(CHANNEL)!.outgoing;
      expect(outgoing.get(one.messageId)!.possibleAckCount).toBe(1);
      expect(outgoing.get(two.messageId)!.possibleAckCount).toBe(0);
    });
  });

  describe("sync messages", () => {
    it("should be sent with empty content, and not when there is no history", async () => {
      const { alice, clock } = pair();
      clock.advance(30_000);
      expect((await alice.tick()).wire).toEqual([]);
      await alice.send(CHANNEL, bytes("one"));
      clock.advance(30_000);
      const tick = await alice.tick();
      const sync = tick.wire.map((wire) => decodeMessage(wire, { dialect: "spec" })).find((message) => message.messageId.startsWith("sync-"));
      expect(sync).toBeDefined();
      expect(sync!.content).toBeUndefined();
    });

    it("should not be added to outgoing buffer, bloom filter, or local log, nor delivered, but should update ack status", async () => {
      const { alice, bob, clock } = pair();
      const sent = await alice.send(CHANNEL, bytes("one"));
      await bob.receive(sent.wire);
      clock.advance(30_000);
      const sync = (await bob.tick()).wire[0]!;
      const syncId = decodeMessage(sync, { dialect: "spec" }).messageId;
      const bobState = bob.inspect(CHANNEL)!;
      expect(bobState.outgoing.has(syncId) || bobState.history.has(syncId) || bobState.bloom.has(syncId)).toBe(false);
      const result = await alice.receive(sync);
      expect(result.kind).toBe("sync");
      expect(result.delivered).toEqual([]);
      expect(result.acknowledged).toEqual([sent.messageId]);
    });
  });

  describe("ephemeral messages", () => {
    it("should be sent without a timestamp, causal history, or bloom filter, and delivered immediately", async () => {
      const { alice, bob } = pair();
      await alice.send(CHANNEL, bytes("before"));
      const sent = await alice.send(CHANNEL, bytes("blink"), { ephemeral: true });
      const decoded = decodeMessage(sent.wire, { dialect: "spec" });
      expect(decoded.lamportTimestamp).toBeUndefined();
      expect(decoded.causalHistory).toEqual([]);
      expect(decoded.bloomFilter).toBeUndefined();
      expect(alice.inspect(CHANNEL)!.outgoing.has(sent.messageId)).toBe(false);
      const result = await bob.receive(sent.wire);
      expect(result.delivered.map((delivered) => [text(delivered.content), delivered.ephemeral])).toEqual([["blink", true]]);
      expect(bob.inspect(CHANNEL)!.history.has(sent.messageId)).toBe(false);
    });
  });

  describe("lamport timestamp (lamport_timestamp.spec.ts)", () => {
    const spec = getDialect("spec");
    it("increments by 1 when current time is not greater, uses current time when greater, monotonic", () => {
      expect(spec.lamportOnSend(1_000, 500)).toBe(1_001);
      expect(spec.lamportOnSend(1_000, 2_000)).toBe(2_000);
      expect(spec.lamportOnSend(1_000, 1_001)).toBe(1_001);
      let clock = 0;
      for (let step = 0; step < 100; step++) {
        const next = spec.lamportOnSend(clock, 50);
        expect(next).toBeGreaterThan(clock);
        clock = next;
      }
    });

    it("very large timestamps from a peer never drag the clock past now + maxFutureSkewMs", async () => {
      const { bob, clock } = pair();
      for (const lamport of [(1n << 64n) - 1n, 0n, BigInt(clock.nowMs) + 10n ** 12n]) {
        await bob.receive(encodeMessage({ senderId: "mallory", messageId: `m${lamport}`, channelId: CHANNEL, lamportTimestamp: lamport, causalHistory: [], content: bytes("x"), repairRequest: [] }, { dialect: "spec" }));
        expect(bob.inspect(CHANNEL)!.lamport).toBeLessThanOrEqual(clock.nowMs + bob.config.maxFutureSkewMs);
      }
      const next = decodeMessage((await bob.send(CHANNEL, bytes("after"))).wire, { dialect: "spec" });
      expect(next.lamportTimestamp).toBeLessThanOrEqual(BigInt(clock.nowMs + bob.config.maxFutureSkewMs + 1));
    });

    it("jumps to current time when far in the past", () => {
      expect(spec.lamportOnSend(5, 1_700_000_000_000)).toBe(1_700_000_000_000);
    });
  });

  describe("repair buffers (buffers.spec.ts)", () => {
    it("evicts the furthest outgoing repair entry when full, with an evicted event", async () => {
      const bus = new TestBus(new FakeClock(), { config: { repairBufferEntriesMax: 2 } });
      const bob = bus.add("bob");
      const evicted: string[] = [];
      bob.on("evicted", (event: { buffer: string; messageId: string }) => event.buffer === "outgoingRepair" && evicted.push(event.messageId));
      const causalHistory = ["d1", "d2", "d3"].map((messageId) => ({ messageId, senderId: "carol" }));
      await bob.receive(encodeMessage({ senderId: "carol", messageId: "m", channelId: CHANNEL, lamportTimestamp: 1n, causalHistory, content: bytes("m"), repairRequest: [] }, { dialect: "spec" }));
      const state = bob.inspect(CHANNEL)!;
      expect(state.outgoingRepair.size).toBe(2);
      expect(evicted).toHaveLength(1);
      const kept = [...state.outgoingRepair.values()].map((entry) => entry.minTimeRepairReqMs);
      const evictedTime = Math.max(...kept);
      expect(evictedTime).toBeLessThanOrEqual(Math.max(...kept));
    });

    it("does not update T_req when a missing message is already queued, and respects maxRepairRequests", async () => {
      const bus = new TestBus(new FakeClock());
      const bob = bus.add("bob");
      const deps = ["d1", "d2", "d3", "d4", "d5"].map((messageId) => ({ messageId, senderId: "carol" }));
      await bob.receive(encodeMessage({ senderId: "carol", messageId: "m1", channelId: CHANNEL, lamportTimestamp: 1n, causalHistory: deps, content: bytes("m1"), repairRequest: [] }, { dialect: "spec" }));
      const before = [...bob.inspect(CHANNEL)!.outgoingRepair.values()].map((entry) => entry.minTimeRepairReqMs);
      bus.clock.advance(1_000);
      await bob.receive(encodeMessage({ senderId: "carol", messageId: "m2", channelId: CHANNEL, lamportTimestamp: 2n, causalHistory: deps, content: bytes("m2"), repairRequest: [] }, { dialect: "spec" }));
      expect([...bob.inspect(CHANNEL)!.outgoingRepair.values()].map((entry) => entry.minTimeRepairReqMs)).toEqual(before);
      bus.clock.advance(bob.config.repairTMaxMs);
      const sent = decodeMessage((await bob.send(CHANNEL, bytes("carrier"))).wire, { dialect: "spec" });
      expect(sent.repairRequest).toHaveLength(3);
      expect(sent.repairRequest.every((entry) => entry.senderId === "carol")).toBe(true);
    });
  });

  describe("message ids", () => {
    it("are unique by default: the same payload twice gives two messages", async () => {
      const { alice } = pair();
      const first = await alice.send(CHANNEL, bytes("same"));
      const second = await alice.send(CHANNEL, bytes("same"));
      expect(first.messageId).not.toBe(second.messageId);
      expect(first.messageId).toMatch(/^[0-9a-f]{64}$/);
    });

    it("are sha256(payload) hex in content mode, as @waku/sds computes them; an unacknowledged repeat re-publishes the same bytes", async () => {
      const { MessageChannel } = await import("@waku/sds");
      const { alice } = pair({ messageIdMode: "content" });
      const first = await alice.send(CHANNEL, bytes("same"));
      expect(first.messageId).toBe(MessageChannel.getMessageId(bytes("same")));
      const again = await alice.send(CHANNEL, bytes("same"));
      expect(again.messageId).toBe(first.messageId);
      expect(Buffer.from(again.wire).equals(Buffer.from(first.wire))).toBe(true);
    });
  });

  it("a manager refuses an empty participant id", () => {
    expect(() => new ReliabilityManager({ participantId: "" })).toThrow(expect.objectContaining({ code: "E_CONFIG_INVALID" }));
  });
});
