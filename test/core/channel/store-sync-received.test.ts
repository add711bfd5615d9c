/**
 * A store sync re-reads every envelope of its time window, mostly ones that already arrived
 * live. The channel skips those by relay hash (counted in `fetchedAlreadyReceived`) instead of
 * handing each to the engine again as a duplicate, and still ingests the ones it missed.
 */
import { describe, expect, it } from "vitest";
import { ReliableChannel } from "../../../src/core/channel/reliable-channel.js";
import { ReceivedHashes } from "../../../src/core/channel/received-hashes.js";
import { MemoryHub } from "../../../src/core/relay/memory-hub.js";
import { ReliabilityManager } from "../../../src/core/reliability-manager.js";

const text = (value: string): Uint8Array => new TextEncoder().encode(value);
const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

describe("store sync skips envelopes the channel already received", () => {
  it("ingests only the missed tail; the engine sees no duplicate", async () => {
    let time = 1_700_000_000_000;
    const now = () => time;
    const hub = new MemoryHub({ nowMs: now });
    const join = (name: string) => {
      const engine = new ReliabilityManager({ participantId: name, now });
      const transport = hub.connect();
      const channel = new ReliableChannel({ channelId: "sync", engine, transport, now, storeSyncIntervalMs: 5_000 });
      const received: string[] = [];
      channel.on("received", (event) => received.push(decode(event.payload)));
      channel.start();
      return { engine, transport, channel, received };
    };
    const alice = join("alice");
    const bob = join("bob");
    let engineDuplicates = 0;
    bob.engine.on("duplicate", () => (engineDuplicates += 1));
    const settle = async () => {
      for (let round = 0; round < 6; round++) {
        await new Promise((resolve) => setImmediate(resolve));
        await Promise.all([alice.channel.idle(), bob.channel.idle()]);
      }
    };
    for (const line of ["one", "two", "three"]) await alice.channel.send(text(line));
    await settle();
    expect(bob.received).toEqual(["one", "two", "three"]);
    // Bob misses the last message live (offline), and nothing later refers to it: a tail loss.
    bob.transport.disconnect();
    await alice.channel.send(text("four"));
    await settle();
    bob.transport.online = true; // back without the transport's own catch-up
    time += 1_000;
    await bob.channel.tick(); // the first tick runs the store sync over everything seen so far
    await settle();
    expect(bob.received).toEqual(["one", "two", "three", "four"]);
    expect(bob.channel.counters.fetchedEnvelopes).toBe(4);
    expect(bob.channel.counters.fetchedAlreadyReceived).toBe(3);
    expect(engineDuplicates).toBe(0);
  });
});

describe("ReceivedHashes", () => {
  it("forgets the oldest hash past its bound and ignores empty hashes", () => {
    const hashes = new ReceivedHashes(3);
    for (const hash of ["a", "b", "c", "", "b", "d"]) hashes.add(hash);
    expect(["a", "b", "c", "d", ""].map((hash) => hashes.has(hash))).toEqual([false, true, true, true, false]);
    expect(hashes.size).toBe(3);
  });
});
