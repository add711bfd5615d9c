/**
 * SDS-R answers re-publish the ORIGINAL bytes of someone else's message (its bloom filter
 * included), as nim-sds's `cachedMessage` does, from a per-channel cache bounded by bytes;
 * beyond the cap (or after a restart) they fall back to re-encoding the history copy.
 */
import { describe, expect, it } from "vitest";
import type { DialectName } from "../../../src/core/protocol/types.js";
import { decodeMessage } from "../../../src/core/protocol/wire/index.js";
import { WireCache } from "../../../src/core/protocol/engine/index.js";
import { ReliabilityManager, type ReliabilityManagerOptions } from "../../../src/core/reliability-manager.js";
import { FakeClock, bytes } from "../protocol/engine/support.js";

const CHANNEL = "repairs";
const CONFIG = { repairTMinMs: 1_000, repairTMaxMs: 2_000, syncIntervalMs: 0, resendIntervalMs: 3_600_000 };

/** Alice sends `count` messages; bob gets them all, carol only the last; carol asks for the rest; bob answers. */
async function repairRound(dialect: DialectName, count: number, bobOptions: Partial<ReliabilityManagerOptions> = {}, mutateAfterReceive = false) {
  const clock = new FakeClock();
  const make = (participantId: string, extra: Partial<ReliabilityManagerOptions> = {}) => new ReliabilityManager({ participantId, dialect, now: clock.now, config: { ...CONFIG, maxRepairRequests: count }, ...extra });
  const alice = make("alice");
  const bob = make("bob", bobOptions);
  const carol = make("carol");
  const sent = [];
  for (let index = 0; index < count; index++) {
    const original = await alice.send(CHANNEL, bytes(`m${index}`));
    sent.push({ messageId: original.messageId, wire: original.wire.slice() });
    // a view into a larger, reused buffer (a relay frame, say): the engine must copy it
    const frame = new Uint8Array(original.wire.length + 16);
    frame.set(original.wire, 8);
    await bob.receive(mutateAfterReceive ? frame.subarray(8, 8 + original.wire.length) : original.wire);
    if (mutateAfterReceive) frame.fill(0);
    clock.advance(10);
  }
  const last = await alice.send(CHANNEL, bytes("last"));
  await bob.receive(last.wire);
  const missing = (await carol.receive(last.wire)).missing.map((entry) => entry.messageId);
  expect(missing.sort()).toEqual(sent.map((item) => item.messageId).sort());
  clock.advance(CONFIG.repairTMaxMs + 1);
  const asking = await carol.send(CHANNEL, bytes("please"));
  expect(decodeMessage(asking.wire, { dialect }).repairRequest).toHaveLength(count);
  await bob.receive(asking.wire);
  clock.advance(CONFIG.repairTMaxMs + 1);
  const answers = (await bob.tick()).publish.map((item) => item.wire);
  return { bob, sent, answers };
}

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

for (const dialect of ["spec", "nim"] as const) {
  describe(`repair answers re-publish the original bytes (${dialect})`, () => {
    it("a rebroadcast of alice's message by bob is byte-identical to what alice published, bloom filter included", async () => {
      const { sent, answers } = await repairRound(dialect, 2);
      expect(answers).toHaveLength(2);
      for (const original of sent) expect(answers.some((answer) => same(answer, original.wire))).toBe(true);
      expect(decodeMessage(answers[0]!, { dialect }).bloomFilter?.length ?? 0).toBeGreaterThan(0);
    });

    it("copies a view into a larger buffer: the caller reusing that buffer after receive does not change the answer", async () => {
      const { sent, answers } = await repairRound(dialect, 1, {}, true);
      expect(answers).toHaveLength(1);
      expect(same(answers[0]!, sent[0]!.wire)).toBe(true);
    });
  });
}

describe("the wire cache's bound", () => {
  it("beyond wireCacheBytesMax only the newest wires are kept; older answers are re-encoded (same message, no filter)", async () => {
    const probe = new ReliabilityManager({ participantId: "probe" });
    const wireBytes = (await probe.send(CHANNEL, bytes("m0"))).wire.length;
    const { bob, sent, answers } = await repairRound("spec", 3, { wireCacheBytesMax: Math.floor(wireBytes * 1.5) });
    const cache = bob.inspect(CHANNEL)!.wires;
    expect(cache.size).toBe(1); // only "last" fits
    expect(cache.bytes).toBeLessThanOrEqual(cache.bytesMax);
    expect(answers).toHaveLength(3);
    for (const original of sent) {
      const answer = answers.find((wire) => decodeMessage(wire, { dialect: "spec" }).messageId === original.messageId)!;
      expect(same(answer, original.wire)).toBe(false);
      const decoded = decodeMessage(answer, { dialect: "spec" });
      expect(decoded.bloomFilter).toBeUndefined();
      expect(decoded.content).toEqual(decodeMessage(original.wire, { dialect: "spec" }).content);
    }
  });

  it("0 turns the cache off; a bad value is a config error", async () => {
    const { bob } = await repairRound("spec", 1, { wireCacheBytesMax: 0 });
    expect(bob.inspect(CHANNEL)!.wires.size).toBe(0);
    expect(() => new ReliabilityManager({ participantId: "x", wireCacheBytesMax: -1 })).toThrow(expect.objectContaining({ code: "E_CONFIG_INVALID" }));
  });

  it("a message leaving history leaves the cache", async () => {
    const clock = new FakeClock();
    // alice references only her previous message, so nothing bob evicted is ever waited for again
    const alice = new ReliabilityManager({ participantId: "alice", now: clock.now, config: { causalHistorySize: 1 } });
    const bob = new ReliabilityManager({ participantId: "bob", now: clock.now, config: { historyEntriesMax: 3 } });
    const ids = [];
    for (let index = 0; index < 6; index++) {
      const sent = await alice.send(CHANNEL, bytes(`m${index}`));
      ids.push(sent.messageId);
      await bob.receive(sent.wire);
      clock.advance(10);
    }
    const cache = bob.inspect(CHANNEL)!.wires;
    expect(bob.inspect(CHANNEL)!.history.ids()).toEqual(ids.slice(3));
    expect(ids.filter((id) => cache.get(id) !== undefined)).toEqual(ids.slice(3));
  });

  it("WireCache evicts oldest first and never holds more than its cap", () => {
    const cache = new WireCache(10);
    cache.set("a", new Uint8Array(4));
    cache.set("b", new Uint8Array(4));
    cache.set("c", new Uint8Array(4));
    expect([cache.get("a"), cache.get("b") !== undefined, cache.get("c") !== undefined]).toEqual([undefined, true, true]);
    cache.set("huge", new Uint8Array(11));
    expect(cache.get("huge")).toBeUndefined();
    cache.set("b", new Uint8Array(6));
    expect(cache.bytes).toBe(10);
    cache.delete("b");
    expect(cache.bytes).toBe(4);
  });
});
