import { describe, expect, it } from "vitest";
import { messageHash, toHex, type WakuEnvelope } from "../../../src/core/relay/envelope.js";
import { MemoryHub } from "../../../src/core/relay/memory-hub.js";
import type { ReceivedEnvelope } from "../../../src/core/relay/transport.js";
import { testSeed } from "./seed.js";

const TOPIC = "/sds/1/demo/proto";
const envelope = (text: string): WakuEnvelope => ({ payload: new TextEncoder().encode(text), contentTopic: TOPIC });
const text = (message: ReceivedEnvelope) => new TextDecoder().decode(message.envelope.payload);

/** A hub whose deliveries wait in a queue the test drains explicitly. */
function manualHub(options: ConstructorParameters<typeof MemoryHub>[0] = {}) {
  const queue: Array<() => void> = [];
  let clock = 1_000;
  const hub = new MemoryHub({ ...options, schedule: (task) => queue.push(task), nowMs: () => clock++ });
  const drain = () => {
    while (queue.length > 0) queue.shift()!();
  };
  return { hub, drain };
}

describe("MemoryHub", () => {
  it("fans out to other subscribers with the same hash the relay computes", async () => {
    const { hub, drain } = manualHub();
    const [alice, bob, carol] = [hub.connect(), hub.connect(), hub.connect()];
    const got: Record<string, string[]> = { alice: [], bob: [], carol: [] };
    alice.subscribe(TOPIC, (message) => got.alice!.push(text(message)));
    bob.subscribe(TOPIC, (message) => got.bob!.push(text(message)));
    carol.subscribe(TOPIC, (message) => got.carol!.push(text(message)));
    const ack = await alice.publish(TOPIC, envelope("hi"));
    expect(ack.hashHex).toBe(toHex(messageHash(hub.pubsubTopic, envelope("hi"))));
    expect(got.bob).toEqual([]);
    drain();
    expect(got).toEqual({ alice: [], bob: ["hi"], carol: ["hi"] });
    expect((await bob.fetchByHashes(TOPIC, [ack.hash])).map(text)).toEqual(["hi"]);
  });

  it("misses live traffic while offline and catches up from the store on reconnect", async () => {
    const { hub, drain } = manualHub();
    const alice = hub.connect();
    const bob = hub.connect();
    const received: ReceivedEnvelope[] = [];
    bob.subscribe(TOPIC, (message) => received.push(message));
    await alice.publish(TOPIC, envelope("1"));
    drain();
    bob.disconnect();
    await expect(bob.publish(TOPIC, envelope("x"))).rejects.toMatchObject({ code: "E_RELAY_UNAVAILABLE" });
    await alice.publish(TOPIC, envelope("2"));
    await alice.publish(TOPIC, envelope("3"));
    drain();
    expect(received.map(text)).toEqual(["1"]);
    bob.reconnect();
    drain();
    expect(received.map(text)).toEqual(["1", "2", "3"]);
    expect(received.map((message) => message.source)).toEqual(["live", "store", "store"]);
  });

  it("drops and duplicates reproducibly for a seed; each peer still sees each hash at most once", async () => {
    const seed = testSeed("memory hub lossy");
    const run = async () => {
      const { hub, drain } = manualHub({ faults: { dropRate: 0.25, duplicateRate: 0.25, seed } });
      const alice = hub.connect();
      const bob = hub.connect();
      const received: string[] = [];
      bob.subscribe(TOPIC, (message) => received.push(text(message)));
      for (let index = 0; index < 100; index++) await alice.publish(TOPIC, envelope(`${index}`));
      drain();
      const stats = hub.stats();
      expect(received.length).toBe(100 - stats.droppedByFaults);
      expect(new Set(received).size).toBe(received.length);
      expect(stats.duplicatedByFaults).toBeGreaterThan(0);
      const since = await bob.fetchSince(TOPIC, 0n);
      expect(since).toHaveLength(100);
      return received;
    };
    expect(await run()).toEqual(await run());
  });

  it("closes peers for good", async () => {
    const { hub } = manualHub();
    const alice = hub.connect();
    await alice.close();
    await expect(alice.publish(TOPIC, envelope("x"))).rejects.toMatchObject({ code: "E_RELAY_CLOSED" });
  });
});
