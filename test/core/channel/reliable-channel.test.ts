import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ReliabilityManager } from "../../../src/core/reliability-manager.js";
import { MemoryHub, type MemoryPeer } from "../../../src/core/relay/memory-hub.js";
import { contentTopicFor } from "../../../src/core/relay/envelope.js";
import { ReliableChannel, type ReliableChannelOptions } from "../../../src/core/channel/reliable-channel.js";
import type { ChannelEventMap } from "../../../src/core/channel/events.js";
import type { SdsConfig } from "../../../src/core/protocol/config.js";
import type { ChannelScheduler } from "../../../src/core/channel/events.js";
import { encodeSegment, payloadHash } from "../../../src/core/channel/segmentation.js";

const SEED = Number(process.env.SDS_SEED ?? Date.now() % 100_000);
console.log(`reliable-channel.test seed ${SEED} (set SDS_SEED to replay)`);

const text = (value: string): Uint8Array => new TextEncoder().encode(value);
const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const FAST: Partial<SdsConfig> = { resendIntervalMs: 2_000, maxResendAttempts: 20, syncIntervalMs: 3_000, repairTMinMs: 1_000, repairTMaxMs: 10_000 };

interface Peer {
  name: string;
  channel: ReliableChannel;
  transport: MemoryPeer;
  engine: ReliabilityManager;
  received: Array<ChannelEventMap["received"]>;
  events: Array<{ name: string; event: unknown }>;
}

function world(hubOptions: ConstructorParameters<typeof MemoryHub>[0] = {}) {
  let time = 1_700_000_000_000;
  const now = () => time;
  const hub = new MemoryHub({ ...hubOptions, nowMs: now });
  const peers: Peer[] = [];
  const join = (name: string, options: Partial<ReliableChannelOptions> = {}, config: Partial<SdsConfig> = FAST, dialect: "spec" | "nim" = "spec"): Peer => {
    const engine = new ReliabilityManager({ participantId: name, now, config, dialect });
    const transport = hub.connect();
    const channel = new ReliableChannel({ channelId: "demo", engine, transport, now, ...options });
    const peer: Peer = { name, channel, transport, engine, received: [], events: [] };
    channel.on("received", (event) => peer.received.push(event));
    for (const eventName of ["sent", "delivered", "undelivered", "lost", "dropped", "error", "send-error"] as const) {
      channel.on(eventName, (event) => peer.events.push({ name: eventName, event }));
    }
    channel.start();
    peers.push(peer);
    return peer;
  };
  const settle = async (): Promise<void> => {
    for (let round = 0; round < 6; round++) {
      await new Promise((resolve) => setImmediate(resolve));
      await Promise.all(peers.map((peer) => peer.channel.idle()));
    }
  };
  const advance = async (ms: number): Promise<void> => {
    time += ms;
    for (const peer of peers) await peer.channel.tick();
    await settle();
  };
  const setTime = (ms: number): void => {
    time = ms;
  };
  return { hub, join, settle, advance, now, peers, setTime };
}

const named = (peer: Peer, name: string) => peer.events.filter((entry) => entry.name === name).map((entry) => entry.event);

describe("ReliableChannel over the in-memory hub", () => {
  it("delivers payloads in order and reports sent, then delivered once acknowledged", async () => {
    const { join, settle, advance } = world();
    const alice = join("alice");
    const bob = join("bob");
    const receipts = [];
    for (const line of ["one", "two", "three"]) receipts.push(await alice.channel.send(text(line)));
    await settle();
    expect(bob.received.map((event) => decode(event.payload))).toEqual(["one", "two", "three"]);
    expect(bob.received[0]!.meta).toMatchObject({ senderId: "alice", segmented: true });
    expect(named(alice, "sent")).toHaveLength(3);
    expect(alice.channel.outcome(receipts[0]!.requestId)).toBe("sent");
    await bob.channel.send(text("ack them"));
    await settle();
    for (let round = 0; round < 5 && named(alice, "delivered").length < 3; round++) await advance(3_000);
    expect(named(alice, "delivered").map((event) => (event as { requestId: string }).requestId).sort()).toEqual(receipts.map((receipt) => receipt.requestId).sort());
    expect(alice.channel.outcome(receipts[2]!.requestId)).toBe("delivered");
    expect(alice.received.map((event) => decode(event.payload))).toEqual(["ack them"]);
  });

  it("three peers over a lossy hub converge: everything delivered once, in each sender's order", async () => {
    const { join, settle, advance, hub } = world({ faults: { dropRate: 0.3, duplicateRate: 0.1, seed: SEED } });
    const peers = ["alice", "bob", "carol"].map((name) => join(name, { storeSyncIntervalMs: 5_000 }));
    const perPeer = 12;
    for (let index = 0; index < perPeer; index++) {
      for (const peer of peers) await peer.channel.send(text(`${peer.name}-${index}`));
      await settle();
    }
    for (let round = 0; round < 60; round++) {
      const complete = peers.every((peer) => peer.received.length >= perPeer * 2);
      if (complete) break;
      await advance(1_000);
    }
    for (const peer of peers) {
      const got = peer.received.map((event) => decode(event.payload));
      expect(new Set(got).size).toBe(got.length);
      for (const other of peers) {
        if (other === peer) continue;
        const fromOther = got.filter((line) => line.startsWith(`${other.name}-`));
        expect(fromOther).toEqual(Array.from({ length: perPeer }, (_, index) => `${other.name}-${index}`));
      }
    }
    expect(hub.stats().droppedByFaults).toBeGreaterThan(0);
  });

  it("segments and reassembles a payload of several MB", async () => {
    const { join, settle } = world();
    const alice = join("alice");
    const bob = join("bob");
    const payload = new Uint8Array(3 * 1024 * 1024 + 12_345).map((_, index) => (index * 7 + (index >> 11)) & 0xff);
    const receipt = await alice.channel.send(payload);
    expect(receipt.messageIds).toHaveLength(31);
    await settle();
    expect(bob.received).toHaveLength(1);
    expect(Buffer.from(bob.received[0]!.payload).equals(Buffer.from(payload))).toBe(true);
    expect(bob.received[0]!.meta.messageIds).toEqual(receipt.messageIds);
    expect(named(alice, "sent")).toHaveLength(1);
  });

  it("encrypts with the channel key; a peer with another key counts wrong-key drops", async () => {
    const { join, settle } = world();
    const key = new Uint8Array(32).fill(9);
    const alice = join("alice", { key });
    const bob = join("bob", { key });
    const mallory = join("mallory", { key: new Uint8Array(32).fill(1) });
    const eve = join("eve");
    await alice.channel.send(text("secret"));
    await settle();
    expect(bob.received.map((event) => decode(event.payload))).toEqual(["secret"]);
    expect(mallory.received).toHaveLength(0);
    expect(mallory.channel.counters.dropped["wrong-key"]).toBe(1);
    expect(named(mallory, "dropped")).toMatchObject([{ reason: "wrong-key" }]);
    expect(eve.received).toHaveLength(0);
    expect(eve.channel.counters.dropped.decode).toBe(1);
  });

  it("drops envelopes with another meta, accepts envelopes without meta (js-waku peers)", async () => {
    const { join, settle } = world();
    const bob = join("bob");
    const outsider = new ReliabilityManager({ participantId: "jsw", config: FAST });
    const other = (bob.transport as unknown as { hub: MemoryHub }).hub.connect();
    const topic = contentTopicFor("demo");
    const raw = await outsider.send("demo", text("plain sds content"));
    await other.publish(topic, { payload: raw.wire, contentTopic: topic, meta: text("RELIABLE-CHANNEL-API/2") });
    await other.publish(topic, { payload: raw.wire, contentTopic: topic, timestampNs: 5n });
    await settle();
    expect(bob.channel.counters.dropped["bad-meta"]).toBe(1);
    expect(bob.received.map((event) => [decode(event.payload), event.meta.segmented])).toEqual([["plain sds content", false]]);
  });

  it("rate limits first transmissions per epoch and releases the rest on later ticks", async () => {
    const { join, settle, advance } = world();
    const alice = join("alice", { rateLimit: { epochPeriodMs: 10_000, messagesPerEpoch: 2 } });
    const bob = join("bob");
    for (const line of ["a", "b", "c", "d", "e"]) await alice.channel.send(text(line));
    await settle();
    expect(bob.received.map((event) => decode(event.payload))).toEqual(["a", "b"]);
    await advance(10_000);
    expect(bob.received.map((event) => decode(event.payload))).toEqual(["a", "b", "c", "d"]);
    await advance(10_000);
    expect(bob.received).toHaveLength(5);
  });

  it("reports undelivered when SDS gives up on a segment nobody acknowledges", async () => {
    const { join, settle, advance } = world();
    const alice = join("alice", {}, { ...FAST, maxResendAttempts: 2 });
    const receipt = await alice.channel.send(text("into the void"));
    await settle();
    for (let round = 0; round < 8 && alice.channel.outcome(receipt.requestId) !== "undelivered"; round++) await advance(2_500);
    expect(alice.channel.outcome(receipt.requestId)).toBe("undelivered");
    expect(named(alice, "undelivered")).toMatchObject([{ requestId: receipt.requestId, undeliveredMessageIds: receipt.messageIds }]);
    expect(alice.channel.counters.resent).toBeGreaterThan(0);
  });

  it("fetches a missed message from the relay store by the retrieval hint another peer gives", async () => {
    const { join, settle } = world();
    const alice = join("alice");
    const bob = join("bob");
    const carol = join("carol");
    bob.transport.disconnect();
    await alice.channel.send(text("first"));
    await settle();
    expect(carol.received.map((event) => decode(event.payload))).toEqual(["first"]);
    bob.transport.online = true; // back, but without store catch-up: only a retrieval hint can close the gap
    await carol.channel.send(text("reply"));
    await settle();
    expect(bob.received.map((event) => decode(event.payload))).toEqual(["first", "reply"]);
    expect(bob.channel.counters.fetchRequests).toBeGreaterThan(0);
    expect(bob.channel.counters.fetchedEnvelopes).toBe(1);
  });

  it("runs its periodic work on an injected scheduler and stops cleanly", async () => {
    const timers: Array<{ atMs: number; run: () => void; cancelled: boolean }> = [];
    const { join, settle, now, setTime } = world();
    const scheduler: ChannelScheduler = {
      schedule(delayMs, run) {
        const timer = { atMs: now() + delayMs, run, cancelled: false };
        timers.push(timer);
        return () => (timer.cancelled = true);
      },
    };
    const runDue = async (): Promise<void> => {
      for (const timer of timers.splice(0)) {
        if (timer.cancelled) continue;
        if (timer.atMs <= now()) timer.run();
        else timers.push(timer);
      }
      await settle();
    };
    const alice = join("alice", { scheduler, tickIntervalMs: 500 }, { ...FAST, maxResendAttempts: 1 });
    const receipt = await alice.channel.send(text("nobody listens"));
    await settle();
    for (let step = 0; step < 20 && alice.channel.outcome(receipt.requestId) !== "undelivered"; step++) {
      setTime(now() + 500);
      await runDue();
    }
    expect(await alice.channel.waitFor(receipt.requestId)).toBe("undelivered");
    await alice.channel.stop();
    expect(timers.every((timer) => timer.cancelled)).toBe(true);
  });

  it("waitFor resolves after the fact and honours an abort signal", async () => {
    const { join, settle } = world();
    const alice = join("alice");
    join("bob");
    const receipt = await alice.channel.send(text("hi"));
    await settle();
    expect(await alice.channel.waitFor(receipt.requestId, "sent")).toBe("sent");
    const controller = new AbortController();
    const waiting = alice.channel.waitFor(receipt.requestId, "final", controller.signal);
    controller.abort(new Error("gave up"));
    await expect(waiting).rejects.toThrow("gave up");
    expect(alice.channel.outcome("no-such-request")).toBe("unknown");
  });

  it("reports a segment set that never completes as lost after the reassembly timeout", async () => {
    const { join, settle, advance } = world();
    const bob = join("bob", { reassembly: { setTimeoutMs: 5_000 } });
    const forger = new ReliabilityManager({ participantId: "forger", config: FAST });
    const payload = text("half of a two-part message");
    const segment = encodeSegment({ originalPayloadHash: payloadHash(payload), originalPayloadLength: payload.length, index: 0, dataSegmentCount: 2, isParity: false, segmentPayload: payload.subarray(0, 10) });
    const sent = await forger.send("demo", segment);
    const topic = contentTopicFor("demo");
    await (bob.transport as unknown as { hub: MemoryHub }).hub.connect().publish(topic, { payload: sent.wire, contentTopic: topic });
    await settle();
    expect(bob.received).toHaveLength(0);
    await advance(5_000);
    expect(named(bob, "lost")).toMatchObject([{ source: "reassembly", reason: "expired", held: 1, expected: 2, messageIds: [sent.messageId] }]);
    expect(bob.channel.counters.lost).toBe(1);
  });

  it("sends ephemeral payloads (final at sent) and works in the nim dialect", async () => {
    const { join, settle } = world();
    const alice = join("alice");
    const bob = join("bob");
    const receipt = await alice.channel.send(text("typing…"), { ephemeral: true });
    await settle();
    expect(bob.received.map((event) => decode(event.payload))).toEqual(["typing…"]);
    expect(alice.channel.outcome(receipt.requestId)).toBe("sent");
    expect(await alice.channel.waitFor(receipt.requestId)).toBe("sent");
    expect(alice.channel.pendingRequests).toBe(0);

    const nim = world();
    const nimAlice = nim.join("alice", {}, FAST, "nim");
    const nimBob = nim.join("bob", {}, FAST, "nim");
    await nimAlice.channel.send(text("hello from nim"));
    await nim.settle();
    expect(nimBob.received.map((event) => decode(event.payload))).toEqual(["hello from nim"]);
  });

  it("refuses payloads above payloadBytesMax and does not queue beyond the rate-limit queue", async () => {
    const { join } = world();
    const alice = join("alice", { segmentBytesMax: 192, totalSegmentCountMax: 4, rateLimit: { epochPeriodMs: 1000, messagesPerEpoch: 1 }, rateLimitQueueMax: 5 });
    expect(alice.channel.payloadBytesMax).toBe(256);
    await expect(alice.channel.send(new Uint8Array(257))).rejects.toMatchObject({ code: "E_PAYLOAD_TOO_LARGE" });
    await alice.channel.send(new Uint8Array(256)); // 4 segments: 1 released, 3 queued
    await expect(alice.channel.send(new Uint8Array(256))).rejects.toMatchObject({ code: "E_BUFFER_FULL" });
  });

  it("turns arbitrary envelope payloads and metas into drops or deliveries, never errors (fuzz)", async () => {
    const { join, settle } = world();
    const plain = join("plain");
    const sealed = join("sealed", { key: new Uint8Array(32).fill(5) });
    const forger = new ReliabilityManager({ participantId: "forger", config: FAST });
    const topic = contentTopicFor("demo");
    const valid = (await forger.send("demo", text("x"))).wire;
    const envelopes = fc.record({
      payload: fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([at, byte]) => {
        const copy = valid.slice();
        copy[at % copy.length] = byte;
        return copy;
      })),
      meta: fc.option(fc.uint8Array({ maxLength: 30 }), { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(envelopes, async ({ payload, meta }) => {
        for (const peer of [plain, sealed]) {
          await peer.channel.ingest({ topic, envelope: { payload, contentTopic: topic, ...(meta ? { meta } : {}) }, hash: new Uint8Array(32), hashHex: "00".repeat(32), storedAtNs: 0n, source: "live" });
        }
      }),
      { numRuns: 300, seed: SEED },
    );
    await settle();
    for (const peer of [plain, sealed]) {
      expect(named(peer, "error")).toEqual([]);
      const counters = peer.channel.counters;
      expect(counters.envelopesReceived).toBe(300);
    }
    expect(sealed.received).toHaveLength(0);
    expect(sealed.channel.counters.dropped["wrong-key"] + sealed.channel.counters.dropped["bad-meta"]).toBe(300);
  });

  it("sendMany wraps many payloads with one engine commit and delivers them in order", async () => {
    const { join, settle } = world();
    const alice = join("alice", { segmentBytesMax: 192 });
    const bob = join("bob", { segmentBytesMax: 192 });
    let groupCommits = 0;
    const original = alice.engine.sendMany.bind(alice.engine);
    alice.engine.sendMany = (channelId, payloads) => {
      groupCommits += 1;
      return original(channelId, payloads);
    };
    const payloads = [...Array.from({ length: 30 }, (_, index) => text(`bulk ${index}`)), new Uint8Array(500).fill(7), text("")];
    const receipts = await alice.channel.sendMany(payloads);
    expect(groupCommits).toBe(1);
    expect(receipts).toHaveLength(payloads.length);
    expect(receipts[30]!.messageIds).toHaveLength(8);
    expect(new Set(receipts.map((receipt) => receipt.requestId)).size).toBe(payloads.length);
    await settle();
    expect(bob.received.map((event) => Buffer.from(event.payload).toString("hex"))).toEqual(payloads.map((payload) => Buffer.from(payload).toString("hex")));
    await expect(alice.channel.sendMany([text("ok"), new Uint8Array(256 * 64 + 1)])).rejects.toMatchObject({ code: "E_PAYLOAD_TOO_LARGE" });
    expect(alice.channel.counters.requestsSent).toBe(payloads.length);
  });
});
