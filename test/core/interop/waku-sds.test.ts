/**
 * Interop in one process with the reference `@waku/sds` MessageChannel (spec dialect), both
 * directions: delivery, acknowledgement by causal history and by bloom filter, a dropped
 * message recovered by resend, a dropped message recovered by SDS-R from a third peer, sync
 * messages and ephemeral messages. @waku/sds reads `Date.now()`, so time is faked with vitest
 * and our managers read the same clock.
 */
import { Message, MessageChannel, MessageChannelEvent } from "@waku/sds";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { decodeMessage } from "../../../src/core/protocol/wire/index.js";
import { ReliabilityManager, type ReliabilityManagerOptions } from "../../../src/core/reliability-manager.js";
import { bytes, text } from "../protocol/engine/support.js";

const CHANNEL = "interop";

class WakuPeer {
  readonly channel: MessageChannel;
  readonly delivered: string[] = [];
  readonly acknowledged: string[] = [];
  readonly syncs: string[] = [];
  constructor(readonly id: string, options: ConstructorParameters<typeof MessageChannel>[2] = {}) {
    this.channel = new MessageChannel(CHANNEL, id, options);
    this.channel.addEventListener(MessageChannelEvent.InMessageDelivered, (event) => this.delivered.push((event as CustomEvent<string>).detail));
    this.channel.addEventListener(MessageChannelEvent.OutMessageAcknowledged, (event) => this.acknowledged.push((event as CustomEvent<string>).detail));
    this.channel.addEventListener(MessageChannelEvent.InSyncReceived, (event) => this.syncs.push((event as CustomEvent<Message>).detail.messageId));
  }
  async send(payload: string): Promise<{ messageId: string; wire: Uint8Array }> {
    let captured: Message | undefined;
    this.channel.pushOutgoingMessage(bytes(payload), async (message) => {
      captured = message;
      return { success: true };
    });
    await this.channel.processTasks();
    return { messageId: captured!.messageId, wire: captured!.encode() };
  }
  async receive(wire: Uint8Array): Promise<void> {
    const message = Message.decode(wire);
    expect(message).toBeDefined();
    this.channel.pushIncomingMessage(message!, undefined);
    await this.channel.processTasks();
  }
}

function ours(participantId: string, config: ReliabilityManagerOptions["config"] = {}): ReliabilityManager {
  return new ReliabilityManager({ participantId, now: () => Date.now(), config: { syncIntervalMs: 0, ...config } });
}

describe("interop with @waku/sds MessageChannel (spec dialect)", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(1_700_000_000_000);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("delivers in both directions, in causal order", async () => {
    const waku = new WakuPeer("waku");
    const us = ours("us");
    const one = await us.send(CHANNEL, bytes("one"));
    const two = await us.send(CHANNEL, bytes("two"));
    await waku.receive(two.wire);
    expect(waku.delivered).toEqual([]);
    await waku.receive(one.wire);
    // @waku/sds delivers buffered messages only when its incoming buffer is swept.
    waku.channel.sweepIncomingBuffer();
    expect(waku.delivered).toEqual([one.messageId, two.messageId]);
    const a = await waku.send("a");
    const b = await waku.send("b");
    expect((await us.receive(b.wire)).missing.map((entry) => entry.messageId)).toEqual([a.messageId]);
    const result = await us.receive(a.wire);
    expect(result.delivered.map((delivered) => text(delivered.content))).toEqual(["a", "b"]);
  });

  it("acknowledges by causal history in both directions", async () => {
    const waku = new WakuPeer("waku");
    const us = ours("us");
    const mine = await us.send(CHANNEL, bytes("mine"));
    await waku.receive(mine.wire);
    const theirs = await waku.send("theirs");
    expect((await us.receive(theirs.wire)).acknowledged).toEqual([mine.messageId]);
    await waku.receive((await us.send(CHANNEL, bytes("ack theirs"))).wire);
    expect(waku.acknowledged).toContain(theirs.messageId);
  });

  it("acknowledges by bloom filter in both directions (two hits each, the spec threshold)", async () => {
    // @waku/sds treats causalHistorySize 0 as "everything" (slice(-0)), so it gets 1 and we skip
    // the one waku message whose causal history names ours.
    const waku = new WakuPeer("waku", { causalHistorySize: 1 });
    const us = ours("us", { causalHistorySize: 0 });
    const mine = await us.send(CHANNEL, bytes("mine"));
    await waku.receive(mine.wire);
    const w0 = await waku.send("w0");
    expect(decodeMessage(w0.wire, { dialect: "spec" }).causalHistory.map((entry) => entry.messageId)).toEqual([mine.messageId]);
    expect((await us.receive((await waku.send("w1")).wire)).acknowledged).toEqual([]);
    expect((await us.receive((await waku.send("w2")).wire)).acknowledged).toEqual([mine.messageId]);
    const theirs = await waku.send("theirs");
    await us.receive(theirs.wire);
    await waku.receive((await us.send(CHANNEL, bytes("u1"))).wire);
    expect(waku.acknowledged).not.toContain(theirs.messageId);
    await waku.receive((await us.send(CHANNEL, bytes("u2"))).wire);
    expect(waku.acknowledged).toContain(theirs.messageId);
  });

  it("recovers a dropped message by resend in both directions", async () => {
    const waku = new WakuPeer("waku");
    const us = ours("us");
    const dropped = await us.send(CHANNEL, bytes("dropped"));
    vi.advanceTimersByTime(us.config.resendIntervalMs);
    const tick = await us.tick();
    expect(tick.wire).toHaveLength(1);
    await waku.receive(tick.wire[0]!);
    expect(waku.delivered).toEqual([dropped.messageId]);
    // @waku/sds resends by pushing the same payload again (same id, same message).
    const lost = await waku.send("lost on the way");
    const again = await waku.send("lost on the way");
    expect(again.messageId).toBe(lost.messageId);
    expect((await us.receive(again.wire)).delivered.map((delivered) => text(delivered.content))).toEqual(["lost on the way"]);
  });

  it("recovers a dropped message by SDS-R from a third peer (a waku peer answers our request)", async () => {
    const alice = new WakuPeer("alice");
    const carol = new WakuPeer("carol");
    const us = ours("us");
    const gap = await alice.send("gap");
    await carol.receive(gap.wire);
    const reveal = await carol.send("reveal");
    expect((await us.receive(reveal.wire)).missing.map((entry) => entry.messageId)).toEqual([gap.messageId]);
    vi.advanceTimersByTime(us.config.repairTMaxMs);
    const carrier = await us.send(CHANNEL, bytes("asking"));
    expect(decodeMessage(carrier.wire, { dialect: "spec" }).repairRequest.map((entry) => entry.messageId)).toEqual([gap.messageId]);
    await carol.receive(carrier.wire);
    vi.advanceTimersByTime(120_000);
    const answers = await carol.channel.sweepRepairIncomingBuffer(async () => true);
    expect(answers.map((message) => message.messageId)).toEqual([gap.messageId]);
    const result = await us.receive(answers[0]!.encode());
    expect(result.delivered.map((delivered) => text(delivered.content))).toEqual(["gap", "reveal"]);
  });

  it("recovers a dropped message by SDS-R from a third peer (we answer a waku peer's request)", async () => {
    const alice = ours("alice");
    const carol = ours("carol");
    const bob = new WakuPeer("bob");
    const gap = await alice.send(CHANNEL, bytes("gap"));
    await carol.receive(gap.wire);
    const reveal = await carol.send(CHANNEL, bytes("reveal"));
    await bob.receive(reveal.wire);
    vi.advanceTimersByTime(120_000);
    const carrier = await bob.send("asking");
    expect(decodeMessage(carrier.wire, { dialect: "spec" }).repairRequest.map((entry) => entry.messageId)).toEqual([gap.messageId]);
    await carol.receive(carrier.wire);
    vi.advanceTimersByTime(120_000);
    const tick = await carol.tick();
    expect(tick.wire.map((wire) => decodeMessage(wire, { dialect: "spec" }).messageId)).toContain(gap.messageId);
    for (const wire of tick.wire) await bob.receive(wire);
    bob.channel.sweepIncomingBuffer();
    expect(bob.delivered.slice(0, 2)).toEqual([gap.messageId, reveal.messageId]);
  });

  it("sync messages are accepted by both", async () => {
    const waku = new WakuPeer("waku");
    const us = ours("us", { syncIntervalMs: 30_000 });
    const mine = await us.send(CHANNEL, bytes("mine"));
    await waku.receive(mine.wire);
    let wakuSync: Uint8Array | undefined;
    expect(await waku.channel.pushOutgoingSyncMessage(async (message) => {
      wakuSync = message.encode();
      return true;
    })).toBe(true);
    const received = await us.receive(wakuSync!);
    expect(received.kind).toBe("sync");
    expect(received.acknowledged).toEqual([mine.messageId]);
    vi.advanceTimersByTime(30_000);
    const ourSync = (await us.tick()).wire;
    expect(ourSync).toHaveLength(1);
    await waku.receive(ourSync[0]!);
    expect(waku.syncs).toHaveLength(1);
    expect(waku.delivered).toEqual([mine.messageId]);
  });

  it("ephemeral messages are delivered by both", async () => {
    const waku = new WakuPeer("waku");
    const us = ours("us");
    const sent = await us.send(CHANNEL, bytes("blink"), { ephemeral: true });
    const decoded = Message.decode(sent.wire);
    expect(decoded?.lamportTimestamp).toBeUndefined();
    expect(decoded?.content).toEqual(bytes("blink"));
    await waku.receive(sent.wire);
    let wakuEphemeral: Uint8Array | undefined;
    await waku.channel.pushOutgoingEphemeralMessage(bytes("wink"), async (message) => {
      wakuEphemeral = message.encode();
      return true;
    });
    await waku.channel.processTasks();
    const result = await us.receive(wakuEphemeral!);
    expect(result.delivered.map((delivered) => [text(delivered.content), delivered.ephemeral])).toEqual([["wink", true]]);
  });
});
