/**
 * ReliabilityManager.setRetrievalHint: the hint of a message in history reaches the causal
 * histories we send afterwards (so a peer that missed it learns where to fetch it), is written
 * under write-before-release and restored after a restart, and leaves the encoded-history log
 * byte-identical to the reference encoder.
 */
import { describe, expect, it } from "vitest";
import { StoreError } from "../../../src/core/errors.js";
import { decodeMessage, encodeMessage } from "../../../src/core/protocol/wire/index.js";
import { ReliabilityManager } from "../../../src/core/reliability-manager.js";
import { MemoryPersistence } from "../../../src/core/store/memory.js";
import { FakeClock, TestPersistence, bytes } from "../protocol/engine/support.js";

const CHANNEL = "hinted";
const hintOf = (seed: number): Uint8Array => Uint8Array.from({ length: 32 }, (_, index) => (seed * 31 + index) & 0xff);

for (const dialect of ["spec", "nim"] as const) {
  describe(`setRetrievalHint (${dialect})`, () => {
    it("later causal histories carry the hint, and a peer that missed the message learns it as missing with that hint", async () => {
      const clock = new FakeClock();
      const alice = new ReliabilityManager({ participantId: "alice", dialect, now: clock.now });
      const bob = new ReliabilityManager({ participantId: "bob", dialect, now: clock.now });
      const first = await alice.send(CHANNEL, bytes("first"));
      const hint = hintOf(1);
      await alice.setRetrievalHint(CHANNEL, first.messageId, hint);
      clock.advance(1_000);
      const second = await alice.send(CHANNEL, bytes("second"));
      const entry = decodeMessage(second.wire, { dialect }).causalHistory.find((item) => item.messageId === first.messageId);
      expect(entry?.retrievalHint).toEqual(hint);
      const received = await bob.receive(second.wire);
      expect(received.missing.map((item) => [item.messageId, item.retrievalHint])).toEqual([[first.messageId, hint]]);
    });

    it("re-encoding stays byte-identical to the reference codec after a hint lands in the middle of history", async () => {
      const clock = new FakeClock();
      const alice = new ReliabilityManager({ participantId: "alice", dialect, now: clock.now });
      const ids: string[] = [];
      for (let index = 0; index < 6; index++) {
        ids.push((await alice.send(CHANNEL, bytes(`m${index}`))).messageId);
        clock.advance(1_000);
      }
      await alice.send(CHANNEL, bytes("warm the encoded log"));
      await alice.setRetrievalHint(CHANNEL, ids[2]!, hintOf(2));
      await alice.setRetrievalHint(CHANNEL, ids[0]!, hintOf(3));
      clock.advance(1_000);
      const wire = (await alice.send(CHANNEL, bytes("after"))).wire;
      const decoded = decodeMessage(wire, { dialect });
      expect(Buffer.from(encodeMessage(decoded, { dialect })).equals(Buffer.from(wire))).toBe(true);
      const hinted = decoded.causalHistory.filter((item) => item.retrievalHint !== undefined).map((item) => item.messageId);
      expect(hinted.sort()).toEqual([ids[0]!, ids[2]!].sort());
    });

    it("is committed before it resolves and restored after a restart (MemoryPersistence)", async () => {
      const clock = new FakeClock();
      const store = new MemoryPersistence();
      const open = () => new ReliabilityManager({ participantId: "alice", dialect, now: clock.now, persistence: store });
      const alice = open();
      const first = await alice.send(CHANNEL, bytes("first"));
      await alice.setRetrievalHint(CHANNEL, first.messageId, hintOf(4));
      const loaded = await store.loadChannel(CHANNEL);
      expect(loaded.ok && loaded.value?.retrievalHints?.get(first.messageId)).toEqual(hintOf(4));
      const restarted = open();
      clock.advance(1_000);
      const next = await restarted.send(CHANNEL, bytes("next"));
      const entry = decodeMessage(next.wire, { dialect }).causalHistory.find((item) => item.messageId === first.messageId);
      expect(entry?.retrievalHint).toEqual(hintOf(4));
    });
  });
}

describe("setRetrievalHint edge cases", () => {
  it("write-before-release: a failed commit throws the store error and the hint is not applied in memory", async () => {
    const clock = new FakeClock();
    const store = new TestPersistence();
    const alice = new ReliabilityManager({ participantId: "alice", now: clock.now, persistence: store });
    const first = await alice.send(CHANNEL, bytes("first"));
    store.failNext("commit");
    await expect(alice.setRetrievalHint(CHANNEL, first.messageId, hintOf(5))).rejects.toBeInstanceOf(StoreError);
    clock.advance(1_000);
    const next = await alice.send(CHANNEL, bytes("next"));
    const entry = decodeMessage(next.wire, { dialect: "spec" }).causalHistory.find((item) => item.messageId === first.messageId);
    expect(entry).toBeDefined();
    expect(entry!.retrievalHint).toBeUndefined();
    expect(store.channels.get(CHANNEL)!.hints.size).toBe(0);
  });

  it("an unknown id or the same hint again writes nothing; a bad hint is a typed input error", async () => {
    const store = new TestPersistence();
    const alice = new ReliabilityManager({ participantId: "alice", persistence: store });
    const first = await alice.send(CHANNEL, bytes("first"));
    await alice.setRetrievalHint(CHANNEL, first.messageId, hintOf(6));
    const commits = store.calls.commit;
    await alice.setRetrievalHint(CHANNEL, "no-such-message", hintOf(7));
    await alice.setRetrievalHint(CHANNEL, first.messageId, hintOf(6));
    expect(store.calls.commit).toBe(commits);
    await expect(alice.setRetrievalHint(CHANNEL, first.messageId, new Uint8Array(0))).rejects.toMatchObject({ code: "E_INPUT_INVALID" });
    await expect(alice.setRetrievalHint(CHANNEL, first.messageId, new Uint8Array(1025))).rejects.toMatchObject({ code: "E_INPUT_INVALID" });
  });

  it("the hint of a message still waiting in the incoming buffer is kept and travels with its delivery", async () => {
    const clock = new FakeClock();
    const alice = new ReliabilityManager({ participantId: "alice", now: clock.now });
    const bob = new ReliabilityManager({ participantId: "bob", now: clock.now });
    const first = await alice.send(CHANNEL, bytes("first"));
    const second = await alice.send(CHANNEL, bytes("second"));
    await bob.receive(second.wire);
    await bob.setRetrievalHint(CHANNEL, second.messageId, hintOf(8));
    const delivered = (await bob.receive(first.wire)).delivered;
    expect(delivered.map((item) => item.messageId)).toEqual([first.messageId, second.messageId]);
    expect(delivered[1]!.retrievalHint).toEqual(hintOf(8));
  });
});
