/**
 * Unit tests of the engine's building blocks: configuration validation, dialect clock rules
 * (incl. the hostile-value ceiling), the sorted bounded history, the local filters'
 * equivalence with the reference BloomFilter bytes, and delta merging ("latest wins").
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BloomFilter, RollingBloomFilter } from "../../../../src/core/protocol/bloom/index.js";
import { resolveConfig } from "../../../../src/core/protocol/config.js";
import { getDialect } from "../../../../src/core/protocol/dialect.js";
import { DeltaBuilder } from "../../../../src/core/protocol/engine/delta.js";
import { LocalHistory, type HistoryRecord } from "../../../../src/core/protocol/engine/history.js";
import { createLocalBloom, readPeerBloom, taggedEntry } from "../../../../src/core/protocol/engine/ports.js";
import { fastEncode } from "../../../../src/core/protocol/engine/fast-codec.js";
import { encodeMessage } from "../../../../src/core/protocol/wire/index.js";

const record = (messageId: string, lamport: bigint): HistoryRecord => ({
  messageId,
  lamport,
  entry: { messageId },
  message: { senderId: "s", messageId, channelId: "c", lamportTimestamp: lamport, causalHistory: [], repairRequest: [] },
});

describe("config", () => {
  it("has per-dialect defaults and refuses nonsense with E_CONFIG_INVALID", () => {
    expect(resolveConfig("spec").causalHistorySize).toBe(200);
    expect(resolveConfig("nim").causalHistorySize).toBe(10);
    expect(resolveConfig("spec", { resendIntervalMs: 5 }).resendIntervalMs).toBe(5);
    for (const bad of [{ resendIntervalMs: 0 }, { bloomErrorRate: 1 }, { repairTMaxMs: 1 }, { lostMessageTimeoutMs: -1 }, { messageIdMode: "x" }, { nonsense: 1 }]) {
      expect(() => resolveConfig("spec", bad as never)).toThrow(expect.objectContaining({ code: "E_CONFIG_INVALID" }));
    }
  });
});

describe("dialect clock rules", () => {
  const nowMs = 1_700_000_000_000;
  it("spec: max(nowMs, ts+1) on send, max on deliver, never past now + skew", () => {
    const spec = getDialect("spec");
    expect(spec.lamportOnSend(nowMs + 10, nowMs)).toBe(nowMs + 11);
    expect(spec.lamportOnDeliver(5, 7n, nowMs, 1000)).toBe(7);
    expect(spec.lamportOnDeliver(5, (1n << 64n) - 1n, nowMs, 1000)).toBe(nowMs + 1000);
    expect(spec.lamportOnReceive(5, 99n, nowMs, 1000)).toBe(5);
  });

  it("nim: max(nowSeconds, ts)+1 on send, max(msgTs, ts)+1 on receive, adopted values capped at nowSeconds + skewSeconds", () => {
    const nim = getDialect("nim");
    const seconds = nowMs / 1000;
    expect(nim.initialLamport(nowMs)).toBe(0);
    expect(nim.lamportOnSend(0, nowMs)).toBe(seconds + 1);
    expect(nim.lamportOnReceive(10, 20n, nowMs, 600_000)).toBe(21);
    expect(nim.lamportOnReceive(10, (1n << 64n) - 1n, nowMs, 600_000)).toBe(seconds + 600 + 1);
    expect(nim.lamportOnDeliver(10, 99n, nowMs, 1000)).toBe(10);
  });

  it("no received value ever moves a clock backwards or past its ceiling (+1 per operation in nim)", () => {
    fc.assert(
      fc.property(fc.constantFrom("spec", "nim" as const), fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { maxLength: 20 }), (name, values) => {
        const dialect = getDialect(name);
        let clock = dialect.initialLamport(nowMs);
        values.forEach((value, index) => {
          const next = dialect.lamportOnDeliver(dialect.lamportOnReceive(clock, value, nowMs, 60_000), value, nowMs, 60_000);
          expect(next).toBeGreaterThanOrEqual(clock);
          expect(next).toBeLessThanOrEqual(dialect.lamportCeiling(nowMs, 60_000) + index + 1);
          clock = next;
        });
      }),
    );
  });
});

describe("LocalHistory", () => {
  it("keeps (lamport, id) order under any insertion order, evicts the oldest, and returns the last K entries", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.string({ minLength: 1, maxLength: 3 })), { maxLength: 60 }), fc.integer({ min: 1, max: 20 }), (items, cap) => {
        const history = new LocalHistory(cap);
        const kept = new Map<string, bigint>();
        for (const [lamport, id] of items) {
          if (kept.has(id)) continue;
          kept.set(id, BigInt(lamport));
          history.insert(record(id, BigInt(lamport)));
        }
        const expected = [...kept].sort(([a, x], [b, y]) => (x !== y ? (x < y ? -1 : 1) : a < b ? -1 : a > b ? 1 : 0)).map(([id]) => id);
        // Evictions remove the oldest at the time; when everything arrived in order that is the global oldest.
        expect(history.size).toBe(Math.min(cap, kept.size));
        const ids = history.ids();
        expect([...ids].sort((a, b) => expected.indexOf(a) - expected.indexOf(b))).toEqual(ids);
        expect(history.recentEntries(3).map((entry) => entry.messageId)).toEqual(ids.slice(-3));
      }),
    );
  });

  it("recentEncoded is always the tagged encoding of recentEntries, under any insertion order, eviction and compaction", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("spec", "nim" as const),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 400 }), fc.boolean(), fc.integer({ min: 0, max: 12 })), { minLength: 1, maxLength: 300 }),
        fc.integer({ min: 5, max: 1_500 }),
        (dialect, steps, cap) => {
          const history = new LocalHistory(cap, (entry) => taggedEntry(entry, dialect));
          steps.forEach(([lamport, check, window], index) => {
            history.insert({ ...record(`id-${index}-${"x".repeat(lamport % 7)}`, BigInt(lamport)), entry: { messageId: `id-${index}-${"x".repeat(lamport % 7)}`, senderId: "s" } });
            if (!check) return;
            const expected = Buffer.concat(history.recentEntries(window).map((entry) => taggedEntry(entry, dialect)));
            expect(Buffer.from(history.recentEncoded(window)).equals(expected)).toBe(true);
          });
          const message = { senderId: "a", messageId: "m", channelId: "c", lamportTimestamp: 5n, causalHistory: history.recentEntries(7), content: new Uint8Array([1]), repairRequest: [] };
          const viaBlock = fastEncode(message, dialect, history.recentEncoded(7));
          expect(Buffer.from(viaBlock).equals(Buffer.from(encodeMessage(message, { dialect })))).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("recentEncoded stays correct across log compaction in a long run", () => {
    const history = new LocalHistory(10_000, (entry) => taggedEntry(entry, "spec"));
    for (let index = 0; index < 6_000; index++) {
      const lamport = BigInt(index - (index % 5 === 0 ? 3 : 0));
      history.insert({ ...record(`m${index}`.padEnd(64, "0"), lamport), entry: { messageId: `m${index}`.padEnd(64, "0"), senderId: "s" } });
      if (index % 97 === 0 || index > 5_990) {
        const expected = Buffer.concat(history.recentEntries(200).map((entry) => taggedEntry(entry, "spec")));
        expect(Buffer.from(history.recentEncoded(200)).equals(expected)).toBe(true);
      }
    }
  });

  it("evicts FIFO by order with many entries and compacts without losing any", () => {
    const history = new LocalHistory(100);
    for (let index = 0; index < 5_000; index++) history.insert(record(`m${index}`, BigInt(index)));
    expect(history.size).toBe(100);
    expect(history.ids()[0]).toBe("m4900");
    expect(history.has("m4899")).toBe(false);
    expect(history.get("m4999")!.lamport).toBe(4999n);
  });
});

describe("local bloom filters", () => {
  it("spec: the in-place wire filter equals BloomFilter.toBytes('spec') and answers like it", () => {
    const config = resolveConfig("spec", { bloomCapacity: 500 });
    const local = createLocalBloom(getDialect("spec"), config);
    const reference = new BloomFilter({ capacity: 500, errorRate: config.bloomErrorRate, hashFamily: "murmur3" });
    for (let index = 0; index < 300; index++) {
      local.add(`id-${index}`);
      reference.add(`id-${index}`);
    }
    expect(Buffer.from(local.toBytes()).equals(Buffer.from(reference.toBytes("spec")))).toBe(true);
    const peer = readPeerBloom(reference.toBytes("spec"), getDialect("spec"), config)!;
    for (let index = 0; index < 400; index++) expect(peer.has(`id-${index}`)).toBe(reference.has(`id-${index}`));
    expect(readPeerBloom(new Uint8Array(3), getDialect("spec"), config)).toBeUndefined();
  });

  it("nim: the local filter serializes like RollingBloomFilter; garbage peer bytes are refused", () => {
    const config = resolveConfig("nim", { bloomCapacity: 50 });
    const local = createLocalBloom(getDialect("nim"), config);
    const reference = new RollingBloomFilter({ capacity: 50, errorRate: config.bloomErrorRate, hashFamily: "farmhash64" });
    for (let index = 0; index < 70; index++) {
      local.add(`id-${index}`);
      reference.add(`id-${index}`);
    }
    expect(Buffer.from(local.toBytes()).equals(Buffer.from(reference.toBytes("nim")))).toBe(true);
    expect(readPeerBloom(new Uint8Array([1, 2, 3]), getDialect("nim"), config)).toBeUndefined();
    expect(readPeerBloom(local.toBytes(), getDialect("nim"), config)!.has("id-69")).toBe(true);
  });
});

describe("DeltaBuilder", () => {
  it("merges latest-wins: an upsert after a removal keeps the upsert, a removal after an upsert keeps the removal", () => {
    const first = new DeltaBuilder("c", 1);
    first.history.remove("m1");
    first.outgoing.upsert("o1", { message: record("o1", 1n).message, sendTimeMs: 1, resendAttempts: 0 });
    const second = new DeltaBuilder("c", 1);
    second.history.upsert("m1", record("m1", 1n).message);
    second.outgoing.remove("o1");
    second.setLamport(9);
    first.merge(second);
    const delta = first.toChannelDelta();
    expect(delta.history).toEqual({ append: [record("m1", 1n).message], evict: [] });
    expect(delta.outgoing).toEqual({ upsert: [], remove: ["o1"] });
    expect(delta.lamportTimestamp).toBe(9n);
    expect(new DeltaBuilder("c", 3).isEmpty).toBe(true);
  });
});
