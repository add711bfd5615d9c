/**
 * Large bloom filters are stored delta-encoded (`sdstk.bloom` diffs against `sdstk.bbase`
 * bases, or `sdstk.bdelta` bases that diff against such a root) and kept out of the `sds.log` rows. These tests pin that restore rebuilds the exact
 * filter and wire bytes after a restart, that bases go away with the last message referring
 * to them, that the `sds.log` rows stay readable by a nim decoder, and that every damaged
 * bloom row is caught by `loadChannel` and `inspect-db` and mended by `--repair`.
 */
import Database from "better-sqlite3";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { decodeMessage, encodeMessage } from "../../../src/core/protocol/wire/index.js";
import type { SdsMessage } from "../../../src/core/protocol/types.js";
import { alignedCopy, applyDiff, changedWords, decodeBloomDiff, diffWords, encodeBloomDiff, encodeDiffFrom, mergeChanged } from "../../../src/core/store/bloom-diff.js";
import { dropBloom, loadBloomState, storeBloom, wireBloomRange } from "../../../src/core/store/bloom-rows.js";
import type { ChannelData } from "../../../src/core/store/contract.js";
import { inspectDatabase } from "../../../src/core/store/inspect.js";
import { repairDatabase } from "../../../src/core/store/repair.js";
import { seededRandom } from "../../../src/core/store/faulty.js";
import { CATEGORY, frameRow, frameSequence, messageKey } from "../../../src/core/store/rows.js";
import { encodeUnacknowledged } from "../../../src/core/store/snapshot.js";
import { SqlitePersistence } from "../../../src/core/store/sqlite.js";
import { Kv } from "../../../src/core/store/sqlite-db.js";
import { emptyDelta, message } from "./fixtures.js";
import { NOW, cleanTemp, must, tempDb } from "./helpers.js";

afterEach(cleanTemp);
const seed = Number(process.env.SDS_SEED ?? Date.now() % 1_000_000);
const BLOOM_BYTES = 18_752;

/** A sender's filter after `count` messages: a fixed pattern plus 10 pseudo-random bits per message. */
function evolvingBlooms(count: number, random: () => number, bytes = BLOOM_BYTES): Uint8Array[] {
  const bits = new Uint8Array(bytes).map((_, i) => (i * 31) & 0xff);
  const out: Uint8Array[] = [];
  for (let n = 0; n < count; n++) {
    for (let k = 0; k < 10; k++) {
      const bit = Math.floor(random() * bytes * 8);
      bits[bit >> 3] = (bits[bit >> 3] as number) | (1 << (bit & 7));
    }
    out.push(bits.slice());
  }
  return out;
}

/** Messages with their filters as hex (deep equality on large typed arrays is slow in vitest). */
function plain(messages: readonly SdsMessage[]): unknown[] {
  return messages.map((m) => ({ ...m, bloomFilter: m.bloomFilter === undefined ? undefined : Buffer.from(m.bloomFilter).toString("hex") }));
}

/** Every outgoing entry of `data` re-publishes exactly the bytes first sent for it. */
function expectWiresExact(data: ChannelData, wires: ReadonlyMap<string, Uint8Array>): void {
  for (const entry of data.meta.outgoingBuffer) expect(Buffer.from(entry.wire as Uint8Array).equals(Buffer.from(wires.get(entry.message.messageId) as Uint8Array))).toBe(true);
}

function rowCount(file: string, category: string): number {
  const db = new Database(file, { readonly: true });
  const row = db.prepare("SELECT count(*) AS n FROM kv WHERE category = CAST(? AS BLOB)").get(category) as { n: number };
  db.close();
  return row.n;
}

async function sendAll(store: SqlitePersistence, messages: SdsMessage[], batch = 50): Promise<Map<string, Uint8Array>> {
  const wires = new Map<string, Uint8Array>();
  for (let from = 0; from < messages.length; from += batch) {
    const deltas = messages.slice(from, from + batch).map((m) => {
      const wire = encodeMessage(m, { dialect: "spec" });
      wires.set(m.messageId, wire);
      const delta = emptyDelta(m.channelId, m.lamportTimestamp as bigint);
      delta.outgoing.upsert.push({ message: m, sendTimeMs: NOW, resendAttempts: 0, wire });
      delta.history.append.push(m);
      return delta;
    });
    must(store.commitSync(deltas));
  }
  return wires;
}

describe("bloom diff codec", () => {
  it("rebuilds any filter exactly from a base and its diff, whatever the length (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 600 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 40 }), (base, changes) => {
        const bloom = base.slice();
        for (const [at, value] of changes) bloom[at % bloom.length] = value;
        const words = diffWords(base, bloom, 10_000) ?? [];
        const diff = decodeBloomDiff(encodeBloomDiff({ baseSequence: 7n, bloomBytes: bloom.length, words }));
        expect(diff.baseSequence).toBe(7n);
        expect(applyDiff(base, diff)).toEqual(bloom);
      }),
      { seed, numRuns: 200 },
    );
  });

  it("encodes a diff straight from the filter to the same bytes as the reference encoder (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 3000 }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.uniqueArray(fc.nat(), { maxLength: 300 }), (bloom, baseSequence, picks) => {
        const wordCount = Math.ceil(bloom.length / 4);
        const changed = [...new Set(picks.map((pick) => pick % wordCount))].sort((a, b) => a - b);
        const words = changed.map((index) => {
          const value = new Uint8Array(4);
          value.set(bloom.subarray(index * 4, Math.min(bloom.length, index * 4 + 4)));
          return { index, value };
        });
        const reference = encodeBloomDiff({ baseSequence, bloomBytes: bloom.length, words });
        expect(Buffer.from(encodeDiffFrom(baseSequence, bloom, changed)).toString("hex")).toBe(Buffer.from(reference).toString("hex"));
      }),
      { seed, numRuns: 300 },
    );
  });

  it("merges the words changed since the base with those changed since the previous filter (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 400 }), fc.array(fc.nat(), { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 30 }), (raw, first, second) => {
        const base = alignedCopy(raw, undefined);
        const previous = base.slice();
        for (const at of first) previous[at % raw.length] = (previous[at % raw.length] as number) ^ (1 << at % 8);
        const next = previous.slice();
        for (const at of second) next[at % raw.length] = (next[at % raw.length] as number) ^ (1 << at % 8); // may revert a word to the base's value
        const before = changedWords(base, previous, 10_000) ?? [];
        const since = changedWords(previous, next, 10_000) ?? [];
        const expected = changedWords(base, next, 10_000) ?? [];
        expect(mergeChanged(before, since, base, next, 10_000)).toEqual(expected);
        if (expected.length > 0) expect(mergeChanged(before, since, base, next, expected.length - 1)).toBeUndefined();
      }),
      { seed, numRuns: 300 },
    );
  });

  it("gives up past the word limit", () => {
    const base = new Uint8Array(400);
    const bloom = base.map((_, i) => (i % 8 === 0 ? 1 : 0));
    expect(diffWords(base, bloom, 10)).toBeUndefined();
    expect(diffWords(base, bloom, 100)?.length).toBe(50);
  });
});

describe("delta-encoded blooms in the SQLite store", () => {
  it(`restores exact filters and wire bytes after a restart, writes few bases, frees them on eviction (seed ${seed})`, async () => {
    console.log(`bloom rows seed=${seed} (set SDS_SEED to replay)`);
    const file = tempDb();
    const random = seededRandom(seed);
    const blooms = evolvingBlooms(120, random);
    const other = evolvingBlooms(30, random);
    const messages = blooms.map((bloom, i) => message("c", `a${String(i).padStart(3, "0")}`, BigInt(10 + 2 * i), { senderId: "alice", bloomFilter: bloom }));
    const received = other.map((bloom, i) => message("c", `b${String(i).padStart(3, "0")}`, BigInt(11 + 2 * i), { senderId: "bob", bloomFilter: bloom }));
    let store = must(SqlitePersistence.open(file));
    const wires = await sendAll(store, messages);
    const incoming = emptyDelta("c", 400n);
    incoming.history.append.push(...received);
    must(store.commitSync([incoming]));
    expect(rowCount(file, "sdstk.bloom")).toBe(150);
    expect(rowCount(file, "sdstk.bbase")).toBeLessThan(150 / 4);
    await store.close();

    store = must(SqlitePersistence.open(file));
    const data = must(await store.loadChannel("c")) as ChannelData;
    expect(plain(data.history)).toEqual(plain([...messages, ...received].sort((x, y) => Number((x.lamportTimestamp as bigint) - (y.lamportTimestamp as bigint)))));
    expect(plain(data.meta.outgoingBuffer.map((entry) => entry.message))).toEqual(plain(messages));
    expectWiresExact(data, wires);

    // the sds.log rows are nim wire bytes without the filter, small, and decode with the nim decoder
    const db = new Database(file, { readonly: true });
    const logRows = db.prepare("SELECT payload FROM kv WHERE category = CAST('sds.log' AS BLOB)").all() as Array<{ payload: Buffer }>;
    db.close();
    for (const row of logRows) {
      expect(row.payload.length).toBeLessThan(1000);
      expect(decodeMessage(row.payload, { dialect: "nim" }).bloomFilter?.length ?? 0).toBe(0);
    }

    // evict the first 100 of alice's messages from history while they are still unacknowledged
    const evict = emptyDelta("c", 401n);
    evict.history.evict.push(...messages.slice(0, 100).map((m) => m.messageId));
    must(store.commitSync([evict]));
    await store.close();
    store = must(SqlitePersistence.open(file));
    const after = must(await store.loadChannel("c")) as ChannelData;
    expect(plain(after.meta.outgoingBuffer.map((entry) => entry.message))).toEqual(plain(messages));
    expectWiresExact(after, wires);
    expect(after.history.length).toBe(50);

    // evicting everything leaves no bloom rows behind
    const rest = emptyDelta("c", 402n);
    rest.history.evict.push(...after.history.map((m) => m.messageId));
    must(store.commitSync([rest]));
    await store.close();
    expect(rowCount(file, "sdstk.bloom")).toBe(0);
    expect(rowCount(file, "sdstk.bbase")).toBe(0);
    expect(rowCount(file, "sdstk.bdelta")).toBe(0);
    expect(inspectDatabase(file, { nowMs: NOW }).ok).toBe(true);
  }, 30_000);

  it("keeps a filter delivered twice with another value exact (the diff row is replaced, not doubled)", async () => {
    const file = tempDb();
    const random = seededRandom(seed + 1);
    const [first, second] = evolvingBlooms(2, random);
    const store = must(SqlitePersistence.open(file));
    const m = message("c", "m1", 5n, { bloomFilter: first });
    const once = emptyDelta("c", 5n);
    once.history.append.push(m);
    must(store.commitSync([once]));
    const again = emptyDelta("c", 6n);
    const changed = { ...m, bloomFilter: second as Uint8Array };
    again.history.append.push(changed);
    must(store.commitSync([again]));
    const data = must(store.loadChannelSync("c")) as ChannelData;
    expect(plain(data.history)).toEqual(plain([changed]));
    expect(rowCount(file, "sdstk.bloom")).toBe(1);
    await store.close();
  });

  it("detects every damaged bloom row (load and inspect-db) and repair leaves a loadable, passing database", async () => {
    const file = tempDb();
    const random = seededRandom(seed + 2);
    const messages = evolvingBlooms(60, random).map((bloom, i) => message("c", `m${String(i).padStart(2, "0")}`, BigInt(10 + i), { bloomFilter: bloom }));
    const store = must(SqlitePersistence.open(file));
    await sendAll(store, messages, 20);
    await store.close();
    const db = new Database(file);
    const rows = db.prepare("SELECT category, key, payload FROM kv WHERE category IN (CAST('sdstk.bloom' AS BLOB), CAST('sdstk.bbase' AS BLOB), CAST('sdstk.bdelta' AS BLOB))").all() as Array<{ category: Buffer; key: Buffer; payload: Buffer }>;
    // the campaign covers every row kind of the base graph: whole roots and bases stored as diffs against them
    expect(rows.filter((row) => row.category.toString() === "sdstk.bdelta").length).toBeGreaterThan(0);
    const update = db.prepare("UPDATE kv SET payload = ? WHERE category = ? AND key = ?");
    for (const row of rows) {
      const mutated = Buffer.from(row.payload);
      mutated[Math.floor(random() * mutated.length)] ^= 1 << Math.floor(random() * 8);
      update.run(mutated, row.category, row.key);
      const report = inspectDatabase(file, { nowMs: NOW });
      expect(report.ok, `${row.category.toString()} ${row.key.toString("hex")}`).toBe(false);
      const reopened = must(SqlitePersistence.open(file, { lock: false }));
      const loaded = reopened.loadChannelSync("c");
      reopened.closeSync();
      expect(loaded.ok).toBe(false);
      update.run(row.payload, row.category, row.key);
    }
    // damage one base for good and repair
    const base = rows.find((row) => row.category.toString() === "sdstk.bbase") as (typeof rows)[number];
    update.run(Buffer.concat([base.payload, Buffer.from([1])]), base.category, base.key);
    db.close();
    const repaired = await repairDatabase(file, { nowMs: NOW });
    expect(repaired.after.ok).toBe(true);
    const store2 = must(SqlitePersistence.open(file));
    const data = must(store2.loadChannelSync("c")) as ChannelData;
    for (const m of data.history) expect(plain([m])).toEqual(plain(messages.filter((x) => x.messageId === m.messageId)));
    expect(data.history.length).toBeLessThan(60);
    await store2.close();
  }, 30_000);

  it("keeps the filter inside published bytes as a diff inside the outgoing row when the stored message has none (the engine's shape), exact after restart", async () => {
    const file = tempDb();
    const random = seededRandom(seed + 3);
    const blooms = evolvingBlooms(80, random);
    let store = must(SqlitePersistence.open(file));
    const wires = new Map<string, Uint8Array>();
    const deltas = blooms.map((bloom, i) => {
      const full = message("c", `w${String(i).padStart(2, "0")}`, BigInt(10 + i), { bloomFilter: bloom });
      const wire = encodeMessage(full, { dialect: "spec" });
      wires.set(full.messageId, wire);
      const stored = { ...full, bloomFilter: undefined };
      const delta = emptyDelta("c", BigInt(10 + i));
      delta.outgoing.upsert.push({ message: stored, sendTimeMs: NOW, resendAttempts: 0, wire });
      delta.history.append.push(stored);
      return delta;
    });
    must(store.commitSync(deltas));
    expect(rowCount(file, "sdstk.wbloom")).toBe(0);
    expect(rowCount(file, "sdstk.bbase")).toBeGreaterThan(0);
    expect(rowCount(file, "sdstk.bbase")).toBeLessThan(80 / 4);
    const db = new Database(file, { readonly: true });
    const outRows = db.prepare("SELECT length(payload) AS n FROM kv WHERE category = CAST('sdstk.out' AS BLOB)").all() as Array<{ n: number }>;
    db.close();
    expect(outRows.length).toBe(80);
    for (const row of outRows) expect(row.n).toBeLessThan(2000);
    await store.close();
    store = must(SqlitePersistence.open(file));
    const data = must(store.loadChannelSync("c")) as ChannelData;
    expect(data.meta.outgoingBuffer.length).toBe(80);
    expectWiresExact(data, wires);
    expect(inspectDatabase(file, { nowMs: NOW }).ok).toBe(true);
    // a damaged base is caught
    const raw = new Database(file);
    const one = raw.prepare("SELECT key, payload FROM kv WHERE category = CAST('sdstk.bbase' AS BLOB) LIMIT 1").get() as { key: Buffer; payload: Buffer };
    const flipped = Buffer.from(one.payload);
    flipped[flipped.length - 1] ^= 0x10;
    raw.prepare("UPDATE kv SET payload = ? WHERE category = CAST('sdstk.bbase' AS BLOB) AND key = ?").run(flipped, one.key);
    expect(inspectDatabase(file, { nowMs: NOW }).ok).toBe(false);
    expect(store.loadChannelSync("c").ok).toBe(false);
    raw.prepare("UPDATE kv SET payload = ? WHERE category = CAST('sdstk.bbase' AS BLOB) AND key = ?").run(one.payload, one.key);
    raw.close();
    // evicting history keeps the wire exact; acknowledging removes the diffs and their bases
    const evict = emptyDelta("c", 200n);
    evict.history.evict.push(...data.history.slice(0, 40).map((m) => m.messageId));
    must(store.commitSync([evict]));
    const again = must(store.loadChannelSync("c")) as ChannelData;
    expectWiresExact(again, wires);
    const ack = emptyDelta("c", 201n);
    ack.outgoing.remove.push(...again.meta.outgoingBuffer.map((entry) => entry.message.messageId));
    must(store.commitSync([ack]));
    await store.close();
    expect(rowCount(file, "sdstk.wbloom")).toBe(0);
    expect(rowCount(file, "sdstk.bbase")).toBe(0);
    expect(rowCount(file, "sdstk.bdelta")).toBe(0);
  }, 30_000);

  it("reads, acknowledges and rewrites outgoing rows of earlier builds, whose published filter sits in an sdstk.wbloom row", async () => {
    const file = tempDb();
    const blooms = evolvingBlooms(20, seededRandom(seed + 5));
    const stored: SdsMessage[] = [];
    const wires = new Map<string, Uint8Array>();
    let store = must(SqlitePersistence.open(file));
    const sends = blooms.map((bloom, i) => {
      const full = message("c", `old${String(i).padStart(2, "0")}`, BigInt(10 + i), { bloomFilter: bloom });
      const wire = encodeMessage(full, { dialect: "spec" });
      wires.set(full.messageId, wire);
      const m = { ...full, bloomFilter: undefined };
      stored.push(m);
      const delta = emptyDelta("c", BigInt(10 + i));
      delta.outgoing.upsert.push({ message: m, sendTimeMs: NOW, resendAttempts: 0, wire });
      delta.history.append.push(m);
      return delta;
    });
    must(store.commitSync(sends));
    await store.close();
    // rewrite the rows in the earlier layout: the diff in its own sdstk.wbloom row, the outgoing row flagged with field 123
    const db = new Database(file);
    const kv = new Kv(db);
    const state = loadBloomState(kv, "c");
    for (const m of stored) {
      const wire = wires.get(m.messageId) as Uint8Array;
      const range = wireBloomRange(wire) as { at: number; length: number };
      const rowKey = messageKey("c", m.messageId);
      const sequence = frameSequence(kv.get(CATEGORY.outgoing, rowKey) as Uint8Array) as bigint;
      storeBloom(kv, state, "c", m.senderId, m.messageId, wire.subarray(range.at, range.at + range.length), CATEGORY.wireBloom);
      dropBloom(kv, state, "c", m.messageId, CATEGORY.outgoing);
      kv.put(CATEGORY.outgoing, rowKey, frameRow(CATEGORY.outgoing, rowKey, sequence, encodeUnacknowledged({ message: m, sendTimeMs: NOW, resendAttempts: 0, wire }, { messageInLog: true, wireBloom: range })));
    }
    db.close();
    expect(rowCount(file, "sdstk.wbloom")).toBe(20);
    store = must(SqlitePersistence.open(file));
    const data = must(store.loadChannelSync("c")) as ChannelData;
    expect(data.meta.outgoingBuffer.length).toBe(20);
    expectWiresExact(data, wires);
    expect(inspectDatabase(file, { nowMs: NOW }).ok).toBe(true);
    // a resend rewrites one row in the current layout; acknowledging others drops their diff rows
    const resend = emptyDelta("c", 101n);
    const first = data.meta.outgoingBuffer[0] as (typeof data.meta.outgoingBuffer)[number];
    resend.outgoing.upsert.push({ ...first, resendAttempts: 1 });
    resend.outgoing.remove.push(...data.meta.outgoingBuffer.slice(1, 10).map((entry) => entry.message.messageId));
    must(store.commitSync([resend]));
    expect(rowCount(file, "sdstk.wbloom")).toBe(10);
    const after = must(store.loadChannelSync("c")) as ChannelData;
    expect(after.meta.outgoingBuffer.length).toBe(11);
    expectWiresExact(after, wires);
    // evicting history detaches the rows of both layouts and keeps the wire exact
    const evict = emptyDelta("c", 102n);
    evict.history.evict.push(...stored.map((m) => m.messageId));
    must(store.commitSync([evict]));
    await store.close();
    store = must(SqlitePersistence.open(file));
    const detached = must(store.loadChannelSync("c")) as ChannelData;
    expect(detached.meta.outgoingBuffer.length).toBe(11);
    expectWiresExact(detached, wires);
    expect(inspectDatabase(file, { nowMs: NOW }).ok).toBe(true);
    const ack = emptyDelta("c", 103n);
    ack.outgoing.remove.push(...detached.meta.outgoingBuffer.map((entry) => entry.message.messageId));
    must(store.commitSync([ack]));
    await store.close();
    expect(rowCount(file, "sdstk.wbloom")).toBe(0);
    expect(rowCount(file, "sdstk.bbase")).toBe(0);
    expect(rowCount(file, "sdstk.bdelta")).toBe(0);
  }, 30_000);

  it("stores any interleaving of senders' filters exactly, whatever changes between them (property)", () => {
    const change = fc.oneof(
      fc.record({ kind: fc.constant("bits" as const), picks: fc.array(fc.nat(), { maxLength: 40 }) }),
      fc.record({ kind: fc.constant("clear" as const), picks: fc.array(fc.nat(), { maxLength: 5 }) }),
      fc.record({ kind: fc.constant("fresh" as const), seedByte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant("resize" as const), bytes: fc.integer({ min: 512, max: 2048 }) }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), change, fc.boolean()), { minLength: 1, maxLength: 60 }), (steps) => {
        const store = must(SqlitePersistence.open(":memory:"));
        const filters: Uint8Array[] = [0, 1, 2].map((sender) => new Uint8Array(1024).map((_, i) => (i * (sender + 3)) & 0xff));
        const expected = new Map<string, Uint8Array>();
        const wires = new Map<string, Uint8Array>();
        const deltas = steps.map(([sender, step, outgoing], index) => {
          let filter = filters[sender] as Uint8Array;
          if (step.kind === "bits") for (const pick of step.picks) filter[(pick >> 3) % filter.length] |= 1 << (pick & 7);
          else if (step.kind === "clear") for (const pick of step.picks) filter[pick % filter.length] = 0;
          else if (step.kind === "fresh") filter = filter.map((_, i) => (i * step.seedByte + 1) & 0xff);
          else filter = new Uint8Array(step.bytes).map((_, i) => (i * 7) & 0xff);
          filters[sender] = filter;
          const id = `m${String(index).padStart(3, "0")}`;
          const full = message("c", id, BigInt(10 + index), { senderId: `sender${sender}`, bloomFilter: filter.slice() });
          const delta = emptyDelta("c", BigInt(10 + index));
          if (outgoing) {
            const wire = encodeMessage(full, { dialect: "spec" });
            wires.set(id, wire);
            const stored = { ...full, bloomFilter: undefined };
            delta.outgoing.upsert.push({ message: stored, sendTimeMs: NOW, resendAttempts: 0, wire });
            delta.history.append.push(stored);
          } else {
            expected.set(id, filter.slice());
            delta.history.append.push(full);
          }
          return delta;
        });
        // in two commits, so the second diffs against state the first left behind
        const half = Math.floor(deltas.length / 2);
        must(store.commitSync(deltas.slice(0, half)));
        must(store.commitSync(deltas.slice(half)));
        const data = must(store.loadChannelSync("c")) as ChannelData;
        for (const m of data.history) {
          const want = expected.get(m.messageId);
          if (want !== undefined) expect(Buffer.from(m.bloomFilter as Uint8Array).toString("hex")).toBe(Buffer.from(want).toString("hex"));
        }
        expect(data.meta.outgoingBuffer.length).toBe(wires.size);
        expectWiresExact(data, wires);
        store.closeSync();
      }),
      { seed, numRuns: 40 },
    );
  }, 60_000);
});
