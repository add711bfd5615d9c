/**
 * The Reliable Channel records the envelope hash of its own message's first confirmed publish
 * in the engine (ReliabilityManager.setRetrievalHint), so the causal histories it sends later
 * carry it: a peer that missed the message fetches it from the relay store BY HINT, at once,
 * with no time-range query (store sync off, clock never advanced, so nothing else could close
 * the gap). Both dialects, and across a restart of the sender from its store.
 */
import { describe, expect, it } from "vitest";
import { ReliableChannel } from "../../../src/core/channel/reliable-channel.js";
import type { SdsConfig } from "../../../src/core/protocol/config.js";
import { MemoryHub, type MemoryPeer } from "../../../src/core/relay/memory-hub.js";
import { ReliabilityManager } from "../../../src/core/reliability-manager.js";
import { MemoryPersistence } from "../../../src/core/store/memory.js";

const text = (value: string): Uint8Array => new TextEncoder().encode(value);
const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
const CONFIG: Partial<SdsConfig> = { syncIntervalMs: 0 };

function world(dialect: "spec" | "nim") {
  const time = 1_700_000_000_000;
  const now = () => time;
  const hub = new MemoryHub({ nowMs: now });
  const channels: ReliableChannel[] = [];
  const join = (name: string, persistence?: MemoryPersistence) => {
    const engine = new ReliabilityManager({ participantId: name, now, config: CONFIG, dialect, ...(persistence ? { persistence } : {}) });
    const transport = hub.connect();
    const calls = { byHashes: [] as string[], since: 0 };
    const byHashes = transport.fetchByHashes.bind(transport);
    const since = transport.fetchSince.bind(transport);
    transport.fetchByHashes = (topic, hashes) => {
      calls.byHashes.push(...hashes.map(hex));
      return byHashes(topic, hashes);
    };
    transport.fetchSince = (topic, sinceNs, options) => {
      calls.since += 1;
      return since(topic, sinceNs, options);
    };
    const channel = new ReliableChannel({ channelId: "hints", engine, transport, now, storeSyncIntervalMs: 0 });
    const received: string[] = [];
    channel.on("received", (event) => received.push(decode(event.payload)));
    channel.start();
    channels.push(channel);
    return { channel, engine, transport: transport as MemoryPeer, calls, received };
  };
  const settle = async (): Promise<void> => {
    for (let round = 0; round < 6; round++) {
      await new Promise((resolve) => setImmediate(resolve));
      await Promise.all(channels.map((channel) => channel.idle()));
    }
  };
  return { hub, join, settle };
}

for (const dialect of ["spec", "nim"] as const) {
  describe(`own retrieval hints over the in-memory hub (${dialect})`, () => {
    it("a peer that missed our message fetches it from the relay store by the hint we recorded", async () => {
      const { join, settle } = world(dialect);
      const alice = join("alice");
      const bob = join("bob");
      bob.transport.disconnect();
      const first = await alice.channel.send(text("first"));
      await settle();
      const firstId = first.messageIds[0]!;
      const recorded = alice.engine.inspect("hints")!.history.get(firstId)!.entry.retrievalHint;
      expect(recorded).toBeDefined();
      bob.transport.online = true; // back without store catch-up
      await alice.channel.send(text("second"));
      await settle();
      expect(bob.received).toEqual(["first", "second"]);
      expect(bob.calls.byHashes).toContain(hex(recorded!));
      expect(bob.calls.since).toBe(0);
      expect(bob.channel.counters.fetchedEnvelopes).toBe(1);
    });
  });
}

describe("own retrieval hints after a restart", () => {
  it("the recorded hint comes back from the store and still closes a peer's gap by hash", async () => {
    const { join, settle } = world("spec");
    const store = new MemoryPersistence();
    const alice = join("alice", store);
    const bob = join("bob");
    bob.transport.disconnect();
    await alice.channel.send(text("before restart"));
    await settle();
    await alice.channel.stop();
    const again = join("alice", store);
    bob.transport.online = true;
    await again.channel.send(text("after restart"));
    await settle();
    expect(bob.received).toEqual(["before restart", "after restart"]);
    expect(bob.calls.since).toBe(0);
    expect(bob.calls.byHashes.length).toBeGreaterThan(0);
  });
});
