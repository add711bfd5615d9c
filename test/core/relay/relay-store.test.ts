import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TokenBucket, faultDecider, seededRandom } from "../../../src/core/relay/limits.js";
import { RelayStore, type RelayStorePersistence, type StoredMessage } from "../../../src/core/relay/relay-store.js";
import { testSeed } from "./seed.js";

const hash = (index: number) => new Uint8Array(32).fill(index);

describe("RelayStore", () => {
  it("copies the hash it is given (a reused scratch), finds it by bytes, and answers duplicates and non-storing stores", () => {
    let now = 0n;
    const store = new RelayStore({ nowNs: () => (now += 1n) });
    const bytes = Uint8Array.from({ length: 32 }, (_, index) => index * 8 + 3);
    const scratch = Uint8Array.from(bytes);
    expect(store.add("/a/1/b/c", scratch, Uint8Array.of(1, 2, 3))).toEqual({ duplicate: false, storedAtNs: 1n });
    scratch.fill(0);
    expect(store.byHashes("/a/1/b/c", [bytes]).map((message) => [message.hashHex, [...message.envelope]])).toEqual([[Buffer.from(bytes).toString("hex"), [1, 2, 3]]]);
    expect(store.byHashes("/a/1/b/c", [scratch])).toEqual([]);
    expect(store.add("/a/1/b/c", bytes, Uint8Array.of(1, 2, 3))).toEqual({ duplicate: true, storedAtNs: 1n });
    expect(store.add("/a/1/b/other", bytes, Uint8Array.of(1, 2, 3))).toEqual({ duplicate: false, storedAtNs: 2n });
    expect(new RelayStore({ entriesPerTopicMax: 0, nowNs: () => 1n }).add("/a/1/b/c", bytes, Uint8Array.of(1))).toEqual({ duplicate: false, storedAtNs: 0n });
  });

  it("tells apart hashes that differ in two bits and one byte, through adds, lookups and evictions", () => {
    let now = 0n;
    const store = new RelayStore({ entriesPerTopicMax: 4, nowNs: () => (now += 1n) });
    // The index keys on 30 bits of four bytes (where, drawn at random): these hashes mostly share a key.
    const colliding = (index: number) => Uint8Array.of(9, 8, 7, 0x05 | ((index & 3) << 6), ...new Uint8Array(27), index >> 2);
    for (let index = 0; index < 6; index++) expect(store.add("/a/1/t/p", colliding(index), Uint8Array.of(index)).duplicate).toBe(false);
    // 0 and 1 were evicted; 2–5 remain, each found by its own bytes.
    expect(store.byHashes("/a/1/t/p", [0, 1, 2, 3, 4, 5].map(colliding)).map((message) => message.envelope[0])).toEqual([2, 3, 4, 5]);
    for (let index = 2; index < 6; index++) expect(store.add("/a/1/t/p", colliding(index), Uint8Array.of(99)).duplicate).toBe(true);
    expect(store.add("/a/1/t/p", colliding(0), Uint8Array.of(0)).duplicate).toBe(false);
    expect(store.since("/a/1/t/p", 0n, 10).messages.map((message) => message.envelope[0])).toEqual([3, 4, 5, 0]);
    // Short hashes (under the four bytes the key reads) are told apart too.
    for (const hash of [Uint8Array.of(1), Uint8Array.of(1, 0), new Uint8Array(0)]) expect(store.add("/a/1/short/p", hash, Uint8Array.of(hash.length)).duplicate).toBe(false);
    expect(store.byHashes("/a/1/short/p", [Uint8Array.of(1, 0), new Uint8Array(0)]).map((message) => message.envelope[0])).toEqual([2, 0]);
  });

  it("matches a simple model over random adds, duplicates, evictions, growth and queries", () => {
    const seed = testSeed("relay store model");
    fc.assert(
      fc.property(
        // Up to 200 entries per topic: the ring starts with 64 slots and grows (while wrapped).
        fc.record({ entries: fc.integer({ min: 1, max: 200 }), bytes: fc.integer({ min: 3000, max: 20_000 }) }),
        fc.array(fc.record({ topic: fc.nat(1), hash: fc.nat(300), size: fc.oneof({ arbitrary: fc.integer({ min: 0, max: 60 }), weight: 20 }, { arbitrary: fc.integer({ min: 2000, max: 2500 }), weight: 1 }), clockStep: fc.nat(2) }), { maxLength: 600, size: "max" }),
        (bounds, operations) => {
          let now = 0n;
          const store = new RelayStore({ entriesPerTopicMax: bounds.entries, bytesPerTopicMax: bounds.bytes, nowNs: () => now });
          const model = new Map<string, { hash: number; envelope: Uint8Array; storedAtNs: bigint }[]>();
          let last = 0n;
          // Pairs of hashes differ only in the top bit of byte 3 (outside every 30-bit key) and in byte 31.
          const hashOf = (value: number) => Uint8Array.of(value >> 1, 1, 2, 3 | ((value & 1) << 7), ...new Uint8Array(27), value);
          for (const [step, operation] of operations.entries()) {
            now += BigInt(operation.clockStep);
            const topic = `/a/1/t${operation.topic}/p`;
            const envelope = new Uint8Array(operation.size).fill(step % 251);
            const entries = model.get(topic) ?? [];
            const held = entries.find((entry) => entry.hash === operation.hash);
            const result = store.add(topic, hashOf(operation.hash), envelope);
            if (held !== undefined) {
              expect(result).toEqual({ duplicate: true, storedAtNs: held.storedAtNs });
              continue;
            }
            last = now > last ? now : last + 1n;
            expect(result).toEqual({ duplicate: false, storedAtNs: last });
            entries.push({ hash: operation.hash, envelope, storedAtNs: last });
            while (entries.length > bounds.entries || entries.reduce((sum, entry) => sum + entry.envelope.length, 0) > bounds.bytes) entries.shift();
            model.set(topic, entries);
          }
          for (const [topic, entries] of model) {
            const since = store.since(topic, 0n, 1000).messages;
            expect(since.map((message) => [message.hashHex, Buffer.from(message.envelope).toString("hex"), message.storedAtNs])).toEqual(entries.map((entry) => [Buffer.from(hashOf(entry.hash)).toString("hex"), Buffer.from(entry.envelope).toString("hex"), entry.storedAtNs]));
            const asked = Array.from({ length: 301 }, (_, value) => value);
            expect(store.byHashes(topic, asked.map(hashOf)).map((message) => message.storedAtNs)).toEqual(asked.flatMap((value) => entries.filter((entry) => entry.hash === value).map((entry) => entry.storedAtNs)));
            const middle = entries[Math.floor(entries.length / 2)];
            if (middle !== undefined) expect(store.since(topic, middle.storedAtNs, 1000).messages.length).toBe(entries.length - Math.floor(entries.length / 2));
          }
        },
      ),
      { seed, numRuns: 100, endOnFailure: true },
    );
  }, 30_000);

  it("writes each change through to its persistence as one add and its evictions, and loads back what it wrote", () => {
    let now = 0n;
    const rows = new Map<string, StoredMessage>();
    const key = (message: StoredMessage) => `${message.topic} ${message.storedAtNs}`;
    const persistence: RelayStorePersistence = {
      loadAll: () => [...rows.values()].sort((a, b) => (a.storedAtNs < b.storedAtNs ? -1 : 1)),
      apply(message, evicted) {
        for (const old of evicted) expect(rows.delete(key(old))).toBe(true);
        rows.set(key(message), { topic: message.topic, hash: message.hash.slice(), hashHex: message.hashHex, envelope: message.envelope.slice(), storedAtNs: message.storedAtNs });
      },
      close: () => undefined,
    };
    const store = new RelayStore({ entriesPerTopicMax: 5, bytesPerTopicMax: 5000, nowNs: () => (now += 1n), persistence });
    const scratch = new Uint8Array(32);
    for (let index = 0; index < 40; index++) {
      scratch.fill(index);
      store.add(`/a/1/t${index % 2}/p`, scratch, new Uint8Array(index % 5 === 0 ? 3000 : 10).fill(index));
    }
    expect(rows.size).toBe(store.messageCount);
    const reloaded = new RelayStore({ entriesPerTopicMax: 5, bytesPerTopicMax: 5000, nowNs: () => 0n, persistence });
    for (const topic of ["/a/1/t0/p", "/a/1/t1/p"]) {
      const show = (messages: StoredMessage[]) => messages.map((message) => [message.hashHex, message.envelope.length, message.envelope[0], message.storedAtNs]);
      expect(show(reloaded.since(topic, 0n, 100).messages)).toEqual(show(store.since(topic, 0n, 100).messages));
    }
    expect(reloaded.relayTimeNs()).toBe(now + 1n);
  });

  it("keeps its own copy of every envelope, small ones packed in slabs, across evictions", () => {
    let now = 0n;
    const store = new RelayStore({ entriesPerTopicMax: 300, nowNs: () => (now += 1n) });
    const hashOf = (index: number) => Uint8Array.of(index >> 8, index & 0xff, ...new Uint8Array(30));
    const envelopeOf = (index: number) => new Uint8Array(index % 7 === 0 ? 5000 : 100 + (index % 150)).fill(index % 256);
    const received = new Uint8Array(6000);
    for (let index = 0; index < 1000; index++) {
      const envelope = envelopeOf(index);
      // The caller's bytes are a view of a reused receive buffer, overwritten after each add.
      const view = received.subarray(0, envelope.length);
      view.set(envelope);
      store.add("/a/1/b/c", hashOf(index), view);
      received.fill(0xee);
    }
    const page = store.since("/a/1/b/c", 0n, 1000);
    expect(page.messages).toHaveLength(300);
    page.messages.forEach((message, offset) => expect(message.envelope).toEqual(envelopeOf(700 + offset)));
  });

  it("evicts oldest first by count and by bytes, and keeps store times strictly increasing", () => {
    let now = 5n;
    const store = new RelayStore({ entriesPerTopicMax: 3, bytesPerTopicMax: 10, nowNs: () => now });
    const times = [1, 2, 3, 4].map((index) => store.add("/a/1/t/p", hash(index), new Uint8Array(2)).storedAtNs);
    expect(times).toEqual([5n, 6n, 7n, 8n]); // clock stuck at 5: +1 each
    expect(store.byHashes("/a/1/t/p", [hash(1), hash(2)]).map((m) => m.storedAtNs)).toEqual([6n]);
    store.add("/a/1/t/p", hash(9), new Uint8Array(8));
    expect(store.since("/a/1/t/p", 0n, 100).messages.map((m) => m.hash[0])).toEqual([4, 9]);
    now = 100n;
    expect(store.add("/a/1/t/p", hash(10), new Uint8Array(1)).storedAtNs).toBe(100n);
    expect(store.add("/a/1/t/p", hash(10), new Uint8Array(1))).toEqual({ duplicate: true, storedAtNs: 100n });
  });

  it("pages since-queries by the last store time and by bytes", () => {
    let now = 0n;
    const store = new RelayStore({ nowNs: () => (now += 10n) });
    for (let index = 0; index < 10; index++) store.add("/a/1/t/p", hash(index), new Uint8Array(100));
    const first = store.since("/a/1/t/p", 25n, 3);
    expect(first.messages.map((m) => m.storedAtNs)).toEqual([30n, 40n, 50n]);
    expect(first.nextAfterNs).toBe(50n);
    const second = store.since("/a/1/t/p", 25n, 100, { afterNs: first.nextAfterNs, bytesMax: 250 });
    expect(second.messages.map((m) => m.storedAtNs)).toEqual([60n, 70n]);
    const last = store.since("/a/1/t/p", 25n, 100, { afterNs: 90n });
    expect(last).toEqual({ messages: [expect.objectContaining({ storedAtNs: 100n })], nextAfterNs: undefined });
  });

  it("refuses a new topic past the cap", () => {
    const store = new RelayStore({ topicsMax: 1, nowNs: () => 1n });
    store.add("/a/1/one/p", hash(1), new Uint8Array(1));
    expect(() => store.add("/a/1/two/p", hash(2), new Uint8Array(1))).toThrow(/topic cap of 1/);
  });
});

describe("limits", () => {
  it("token bucket refills at the rate up to the burst", () => {
    let now = 0;
    const bucket = new TokenBucket(2, 2, () => now);
    expect([bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, false]);
    now += 500;
    expect([bucket.take(), bucket.take()]).toEqual([true, false]);
    now += 10_000;
    expect([bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, false]);
  });

  it("seeded random and faults repeat for a seed and differ across seeds", () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const first = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(first);
    expect(first.every((value) => value >= 0 && value < 1)).toBe(true);
    const decide = faultDecider({ dropRate: 0.5, duplicateRate: 0.5, seed: 3 });
    const counts = [0, 0, 0];
    for (let index = 0; index < 4000; index++) counts[decide()]! += 1;
    for (const count of counts) expect(count).toBeGreaterThan(600);
    expect(faultDecider(undefined)()).toBe(1);
    expect(() => faultDecider({ dropRate: 2, duplicateRate: 0, seed: 1 })).toThrow(RangeError);
  });
});
