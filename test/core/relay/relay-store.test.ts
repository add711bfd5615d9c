import { describe, expect, it } from "vitest";
import { TokenBucket, faultDecider, seededRandom } from "../../../src/core/relay/limits.js";
import { RelayStore } from "../../../src/core/relay/relay-store.js";

const hash = (index: number) => new Uint8Array(32).fill(index);

describe("RelayStore", () => {
  it("addByHex stores the hash given as hex, finds it by bytes, and answers duplicates and non-storing stores with the bytes", () => {
    let now = 0n;
    const store = new RelayStore({ nowNs: () => (now += 1n) });
    const bytes = Uint8Array.from({ length: 32 }, (_, index) => index * 8 + 3);
    const hex = Buffer.from(bytes).toString("hex");
    const first = store.addByHex("/a/1/b/c", hex, Uint8Array.of(1, 2, 3));
    expect(first).toMatchObject({ duplicate: false, storedAtNs: 1n });
    expect(first.hash).toEqual(bytes);
    expect(store.byHashes("/a/1/b/c", [bytes]).map((message) => message.hashHex)).toEqual([hex]);
    expect(store.add("/a/1/b/c", bytes, Uint8Array.of(1, 2, 3))).toEqual({ duplicate: true, storedAtNs: 1n });
    expect(store.addByHex("/a/1/b/c", hex, Uint8Array.of(1, 2, 3)).hash).toEqual(bytes);
    const none = new RelayStore({ entriesPerTopicMax: 0, nowNs: () => 1n }).addByHex("/a/1/b/c", hex, Uint8Array.of(1));
    expect(none).toEqual({ duplicate: false, storedAtNs: 0n, hash: bytes });
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
