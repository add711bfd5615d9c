/**
 * ReliabilityManager with persistence: the nim-sds `test_persistence.nim` scenarios
 * (write → restart → read back, failure policies) in both dialects, plus write-before-release:
 * a failed commit throws a typed StoreError, releases nothing and leaves memory as committed.
 */
import { describe, expect, it } from "vitest";
import { decodeWire } from "../../src/core/protocol/engine/index.js";
import { decodeMessage } from "../../src/core/protocol/wire/index.js";
import type { DialectName } from "../../src/core/protocol/types.js";
import { ReliabilityManager, type ReliabilityManagerOptions } from "../../src/core/reliability-manager.js";
import { bytes, FakeClock, TestPersistence, text } from "./protocol/engine/support.js";

const CHANNEL = "persisted";

function setup(dialect: DialectName, options: Partial<ReliabilityManagerOptions> = {}) {
  const clock = new FakeClock();
  const store = new TestPersistence();
  const open = (participantId = "alice", extra: Partial<ReliabilityManagerOptions> = {}) =>
    new ReliabilityManager({ participantId, dialect, now: clock.now, persistence: store, ...options, ...extra });
  const peer = new ReliabilityManager({ participantId: "bob", dialect, now: clock.now });
  return { clock, store, open, peer };
}

for (const dialect of ["spec", "nim"] as const) {
  describe(`persistence: write → restart → read back (${dialect})`, () => {
    it("outgoing buffer and lamport clock survive restart; resends after restart re-publish the same bytes", async () => {
      const { clock, open } = setup(dialect);
      const first = open();
      const sent = await first.send(CHANNEL, bytes("keep me"));
      const lamport = first.inspect(CHANNEL)!.lamport;
      const second = open();
      clock.advance(second.config.resendIntervalMs);
      const tick = await second.tick();
      expect(second.inspect(CHANNEL)!.lamport).toBe(lamport);
      expect(tick.wire.some((wire) => Buffer.from(wire).equals(Buffer.from(sent.wire)))).toBe(true);
    });

    it("delivered messages survive restart and rebuild the bloom filter; lamport stays monotonic", async () => {
      const { open, peer } = setup(dialect);
      const alice = open();
      const fromBob = await peer.send(CHANNEL, bytes("from bob"));
      await alice.receive(fromBob.wire);
      const before = decodeMessage((await alice.send(CHANNEL, bytes("a1"))).wire, { dialect }).lamportTimestamp!;
      const restarted = open();
      const after = decodeMessage((await restarted.send(CHANNEL, bytes("a2"))).wire, { dialect });
      expect(after.lamportTimestamp! > before).toBe(true);
      const state = restarted.inspect(CHANNEL)!;
      expect(state.bloom.has(fromBob.messageId)).toBe(true);
      expect(after.causalHistory.map((entry) => entry.messageId)).toContain(fromBob.messageId);
      expect((await restarted.receive(fromBob.wire)).duplicate).toBe(true);
    });

    it("an acknowledgement removes the outgoing entry from persistence", async () => {
      const { open, peer, store } = setup(dialect);
      const alice = open();
      const sent = await alice.send(CHANNEL, bytes("ack me"));
      await peer.receive(sent.wire);
      await alice.receive((await peer.send(CHANNEL, bytes("ack"))).wire);
      expect(store.channels.get(CHANNEL)!.outgoing.size).toBe(0);
    });

    it("the incoming dependency-waiting buffer survives restart, and the cascade resumes after it", async () => {
      const { open, peer } = setup(dialect);
      const alice = open();
      const one = await peer.send(CHANNEL, bytes("one"));
      const two = await peer.send(CHANNEL, bytes("two"));
      await alice.receive(two.wire);
      const restarted = open();
      const result = await restarted.receive(one.wire);
      expect(result.delivered.map((delivered) => text(delivered.content))).toEqual(["one", "two"]);
    });

    it("the SDS-R outgoing repair buffer survives restart with its absolute T_req", async () => {
      const { open, peer } = setup(dialect);
      const alice = open();
      await peer.send(CHANNEL, bytes("one"));
      await alice.receive((await peer.send(CHANNEL, bytes("two"))).wire);
      const due = [...alice.inspect(CHANNEL)!.outgoingRepair.values()][0]!.minTimeRepairReqMs;
      const restarted = open();
      await restarted.send(CHANNEL, bytes("load"));
      expect([...restarted.inspect(CHANNEL)!.outgoingRepair.values()][0]!.minTimeRepairReqMs).toBe(due);
    });

    it("FIFO eviction state survives restart and multiple restart cycles", async () => {
      const { open } = setup(dialect, { config: { historyEntriesMax: 3 } });
      const ids: string[] = [];
      for (let cycle = 0; cycle < 3; cycle++) {
        const manager = open();
        ids.push((await manager.send(CHANNEL, bytes(`m${cycle}a`))).messageId, (await manager.send(CHANNEL, bytes(`m${cycle}b`))).messageId);
      }
      const last = open();
      await last.tick();
      expect(last.inspect(CHANNEL)!.history.ids()).toEqual(ids.slice(-3));
    });

    it("removeChannel issues exactly one dropChannel and wipes state; a recreated channel does not inherit the lamport", async () => {
      const { open, store, clock } = setup(dialect);
      const alice = open();
      clock.advance(3_600_000);
      await alice.send(CHANNEL, bytes("x"));
      clock.advance(-3_600_000);
      await alice.removeChannel(CHANNEL);
      expect(store.calls.dropChannel).toBe(1);
      expect(store.channels.has(CHANNEL)).toBe(false);
      const fresh = decodeMessage((await alice.send(CHANNEL, bytes("y"))).wire, { dialect });
      expect(Number(fresh.lamportTimestamp)).toBeLessThan(dialect === "spec" ? clock.nowMs + 3_600_000 : clock.nowMs / 1000 + 3_600);
    });
  });
}

describe("persistence failure policies", () => {
  it("loadChannel failure surfaces as a typed store error", async () => {
    const { open, store } = setup("spec");
    store.failNext("loadChannel");
    await expect(open().send(CHANNEL, bytes("x"))).rejects.toMatchObject({ code: "E_STORE_BUSY", name: "StoreError" });
  });

  it("write-before-release: a failed commit throws, releases nothing and leaves memory as committed", async () => {
    const { open, store, peer } = setup("spec");
    const alice = open();
    const first = await alice.send(CHANNEL, bytes("committed"));
    const lamport = alice.inspect(CHANNEL)!.lamport;
    store.failNext("commit");
    const delivered: unknown[] = [];
    alice.on("delivered", (event) => delivered.push(event));
    await expect(alice.send(CHANNEL, bytes("refused"))).rejects.toMatchObject({ code: "E_STORE_BUSY" });
    const fromBob = await peer.send(CHANNEL, bytes("bob"));
    store.failNext("commit");
    await expect(alice.receive(fromBob.wire)).rejects.toMatchObject({ code: "E_STORE_BUSY" });
    expect(delivered).toEqual([]);
    const next = await alice.send(CHANNEL, bytes("after"));
    const decoded = decodeMessage(next.wire, { dialect: "spec" });
    expect(decoded.causalHistory.map((entry) => entry.messageId)).toEqual([first.messageId]);
    expect(alice.inspect(CHANNEL)!.lamport).toBeGreaterThan(lamport);
    expect((await alice.receive(fromBob.wire)).delivered).toHaveLength(1);
  });

  it("best-effort: commit failures do not surface, are retried with the next operation, and the pending queue survives idle operations", async () => {
    const { open, store } = setup("nim", { policy: "best-effort" });
    const alice = open();
    const errors: unknown[] = [];
    alice.on("storeError", (error) => errors.push(error));
    store.failNext("commit", 2);
    const one = await alice.send(CHANNEL, bytes("one"));
    const two = await alice.send(CHANNEL, bytes("two"));
    expect(errors).toHaveLength(2);
    expect(store.channels.get(CHANNEL)).toBeUndefined();
    await alice.tick();
    const stored = store.channels.get(CHANNEL)!;
    expect([...stored.history.keys()].sort()).toEqual([one.messageId, two.messageId].sort());
    expect(stored.outgoing.size).toBe(2);
  });

  it("best-effort: an eviction and an append pending together reach the disk together after idle retries", async () => {
    const { open, store, peer } = setup("nim", { policy: "best-effort", config: { historyEntriesMax: 1 } });
    const alice = open();
    const old = await peer.send(CHANNEL, bytes("old"));
    await alice.receive(old.wire);
    store.failNext("commit", 2);
    await alice.receive((await peer.send(CHANNEL, bytes("newer"))).wire); // evicts "old"
    await alice.markDependenciesMet(CHANNEL, []);
    await alice.tick();
    expect(store.channels.get(CHANNEL)!.history.size).toBe(1);
    expect(store.channels.get(CHANNEL)!.history.has(old.messageId)).toBe(false);
  });

  it("dropChannel failure during removeChannel surfaces and keeps memory", async () => {
    const { open, store } = setup("spec");
    const alice = open();
    await alice.send(CHANNEL, bytes("x"));
    store.failNext("dropChannel");
    await expect(alice.removeChannel(CHANNEL)).rejects.toMatchObject({ code: "E_STORE_BUSY" });
    expect(alice.inspect(CHANNEL)).toBeDefined();
  });

  it("sendMany commits once and releases nothing when that commit fails", async () => {
    const { open, store } = setup("spec");
    const alice = open();
    const payloads = Array.from({ length: 50 }, (_, index) => bytes(`bulk ${index}`));
    const results = await alice.sendMany(CHANNEL, payloads);
    expect(results).toHaveLength(50);
    expect(store.calls.commit).toBe(1);
    expect(store.channels.get(CHANNEL)!.history.size).toBe(50);
    store.failNext("commit");
    await expect(alice.sendMany(CHANNEL, payloads.map((payload) => new Uint8Array([...payload, 1])))).rejects.toMatchObject({ code: "E_STORE_BUSY" });
    expect(alice.inspect(CHANNEL)?.history.size ?? 50).toBe(50);
    await alice.tick();
    expect(alice.inspect(CHANNEL)!.history.size).toBe(50);
  });

  it("batch runs sends, receives and declarations with one commit; refused operations fill their slot with the error", async () => {
    const { open, store, peer } = setup("spec");
    const alice = open();
    const one = await peer.send(CHANNEL, bytes("one"));
    const two = await peer.send(CHANNEL, bytes("two"));
    const results = await alice.batch([
      { op: "receive", wire: two.wire },
      { op: "send", channelId: CHANNEL, payload: bytes("mine") },
      { op: "send", channelId: CHANNEL, payload: new Uint8Array(0) },
      { op: "markDependenciesMet", channelId: CHANNEL, messageIds: [one.messageId] },
    ]);
    expect(store.calls.commit).toBe(1);
    expect(results[0]).toMatchObject({ messageId: two.messageId, delivered: [] });
    expect(results[1]).toMatchObject({ channelId: CHANNEL });
    expect(results[2]).toMatchObject({ error: { code: "E_PAYLOAD_EMPTY" } });
    expect((results[3] as { delivered: Array<{ content: Uint8Array }> }).delivered.map((delivered) => text(delivered.content))).toEqual(["two"]);
    store.failNext("commit");
    await expect(alice.batch([{ op: "send", channelId: CHANNEL, payload: bytes("lost") }])).rejects.toMatchObject({ code: "E_STORE_BUSY" });
    expect(store.channels.get(CHANNEL)!.history.size).toBe(2);
  });

  it("batch receives a message the caller already decoded without decoding its wire again, with the same result", async () => {
    const { open, peer } = setup("spec");
    const one = await peer.send(CHANNEL, bytes("one"));
    const plain = await setup("spec").open().batch([{ op: "receive", wire: one.wire }]);
    const alice = open();
    const message = decodeWire(one.wire, alice.dialect.name, alice.config);
    // A wire that no longer decodes shows that the manager took the given message.
    const results = await alice.batch([{ op: "receive", wire: new Uint8Array([0xff, 0xff]), message }]);
    expect(results).toEqual(plain);
    expect(alice.inspect(CHANNEL)!.history.has(one.messageId)).toBe(true);
  });

  it("without persistence, state lives in memory only", async () => {
    const alice = new ReliabilityManager({ participantId: "alice" });
    await alice.send(CHANNEL, bytes("x"));
    expect(alice.inspect(CHANNEL)!.history.size).toBe(1);
  });
});
