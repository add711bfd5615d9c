/**
 * Bloom bases stored as diffs against a whole root (`sdstk.bdelta` against `sdstk.bbase`,
 * bloom-bases.ts). Pins that a busy sender writes few whole filters, that filters and wire
 * bytes stay exact across restarts, that roots go with their last base, and that damage in
 * the graph (a damaged root, a missing root, an orphan root) is reported by `inspect-db`,
 * refused by load, and mended by `--repair` without losing undamaged messages.
 */
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { encodeMessage } from "../../../src/core/protocol/wire/index.js";
import type { SdsMessage } from "../../../src/core/protocol/types.js";
import { rootDiffPairsMax } from "../../../src/core/store/bloom-bases.js";
import type { ChannelData, ChannelDelta } from "../../../src/core/store/contract.js";
import { seededRandom } from "../../../src/core/store/faulty.js";
import { inspectDatabase } from "../../../src/core/store/inspect.js";
import { repairDatabase } from "../../../src/core/store/repair.js";
import { CATEGORY, frameRow } from "../../../src/core/store/rows.js";
import { SqlitePersistence } from "../../../src/core/store/sqlite.js";
import { emptyDelta, message } from "./fixtures.js";
import { NOW, cleanTemp, must, tempDb } from "./helpers.js";

afterEach(cleanTemp);
const seed = Number(process.env.SDS_SEED ?? Date.now() % 1_000_000);
const BLOOM_BYTES = 18_752;

function rows(file: string, category: string): Array<{ key: Buffer; payload: Buffer }> {
  const db = new Database(file, { readonly: true });
  const out = db.prepare("SELECT key, payload FROM kv WHERE category = CAST(? AS BLOB) ORDER BY key").all(category) as Array<{ key: Buffer; payload: Buffer }>;
  db.close();
  return out;
}

/** `count` sends of one sender in the engine's shape (filter in the published bytes and in the history message), `batch` per transaction. */
function sends(count: number, random: () => number, sender = "alice"): { deltas: ChannelDelta[]; wires: Map<string, Uint8Array>; messages: SdsMessage[] } {
  const bits = new Uint8Array(BLOOM_BYTES).map((_, i) => (i * 31) & 0xff);
  const wires = new Map<string, Uint8Array>();
  const messages: SdsMessage[] = [];
  const deltas = Array.from({ length: count }, (_, n) => {
    for (let k = 0; k < 10; k++) {
      const bit = Math.floor(random() * BLOOM_BYTES * 8);
      bits[bit >> 3] = (bits[bit >> 3] as number) | (1 << (bit & 7));
    }
    const full = message("c", `${sender}-${String(n).padStart(4, "0")}`, BigInt(10 + n), { senderId: sender, bloomFilter: bits.slice() });
    const wire = encodeMessage(full, { dialect: "spec" });
    wires.set(full.messageId, wire);
    messages.push(full);
    const delta = emptyDelta("c", BigInt(10 + n));
    delta.outgoing.upsert.push({ message: { ...full, bloomFilter: undefined }, sendTimeMs: NOW, resendAttempts: 0, wire });
    delta.history.append.push(full);
    return delta;
  });
  return { deltas, wires, messages };
}

async function commitAll(file: string, deltas: ChannelDelta[], batch: number): Promise<void> {
  const store = must(SqlitePersistence.open(file));
  for (let from = 0; from < deltas.length; from += batch) must(store.commitSync(deltas.slice(from, from + batch)));
  await store.close();
}

function load(file: string): ReturnType<SqlitePersistence["loadChannelSync"]> {
  const store = must(SqlitePersistence.open(file, { lock: false }));
  const loaded = store.loadChannelSync("c");
  store.closeSync();
  return loaded;
}

function expectExact(data: ChannelData, wires: ReadonlyMap<string, Uint8Array>, messages: readonly SdsMessage[]): void {
  const filters = new Map(messages.map((m) => [m.messageId, Buffer.from(m.bloomFilter as Uint8Array)]));
  for (const entry of data.meta.outgoingBuffer) expect(Buffer.from(entry.wire as Uint8Array).equals(wires.get(entry.message.messageId) as Uint8Array), entry.message.messageId).toBe(true);
  for (const m of data.history) expect(Buffer.from(m.bloomFilter as Uint8Array).equals(filters.get(m.messageId) as Buffer), m.messageId).toBe(true);
}

describe(`bloom bases as diffs against a root (seed ${seed})`, () => {
  it("writes few whole filters for a busy sender, stays exact across restarts, and frees roots with their last base", async () => {
    const file = tempDb();
    const { deltas, wires, messages } = sends(300, seededRandom(seed));
    await commitAll(file, deltas, 40);
    const whole = rows(file, CATEGORY.bloomBase);
    const delta = rows(file, CATEGORY.bloomBaseDelta);
    // 3,000 new bits: a root per ~1,172 changed words, a base per ~74
    expect(whole.length).toBeGreaterThanOrEqual(1);
    expect(whole.length).toBeLessThanOrEqual(Math.ceil((300 * 10) / rootDiffPairsMax(BLOOM_BYTES)) + 1);
    expect(delta.length).toBeGreaterThan(whole.length * 5);
    for (const row of delta) expect(row.payload.length).toBeLessThan(rootDiffPairsMax(BLOOM_BYTES) * 9 + 64);
    const data = must(load(file)) as ChannelData;
    expect(data.history.length).toBe(300);
    expect(data.meta.outgoingBuffer.length).toBe(300);
    expectExact(data, wires, messages);
    expect(inspectDatabase(file, { nowMs: NOW }).problems).toEqual([]);
    // more sends after a restart (no root known to the new writer) stay exact too
    const later = sends(330, seededRandom(seed)).deltas.slice(300);
    await commitAll(file, later, 7);
    expect(inspectDatabase(file, { nowMs: NOW }).problems).toEqual([]);
    // acknowledge and evict all: every base and root goes
    const store = must(SqlitePersistence.open(file));
    const done = emptyDelta("c", 1000n);
    done.outgoing.remove.push(...[...wires.keys()], ...later.map((d) => d.history.append[0]?.messageId as string));
    done.history.evict.push(...done.outgoing.remove);
    must(store.commitSync([done]));
    await store.close();
    expect(rows(file, CATEGORY.bloomBase).length).toBe(0);
    expect(rows(file, CATEGORY.bloomBaseDelta).length).toBe(0);
  }, 30_000);

  it("a damaged root: load refuses, inspect names the root, its bases and their messages; repair sets them aside and the rest loads exactly", async () => {
    const file = tempDb();
    const alice = sends(200, seededRandom(seed + 1), "alice");
    const bob = sends(40, seededRandom(seed + 2), "bob");
    await commitAll(file, [...alice.deltas, ...bob.deltas], 25);
    const roots = rows(file, CATEGORY.bloomBase);
    expect(roots.length).toBeGreaterThanOrEqual(2);
    const damaged = roots[0] as { key: Buffer; payload: Buffer };
    const raw = new Database(file);
    const flipped = Buffer.from(damaged.payload);
    flipped[flipped.length - 3] ^= 0x40;
    raw.prepare("UPDATE kv SET payload = ? WHERE category = CAST(? AS BLOB) AND key = ?").run(flipped, CATEGORY.bloomBase, damaged.key);
    raw.close();
    expect(load(file).ok).toBe(false);
    const report = inspectDatabase(file, { nowMs: NOW });
    expect(report.ok).toBe(false);
    const categories = new Set(report.problems.map((p) => p.category));
    expect(categories.has(CATEGORY.bloomBase)).toBe(true);
    expect(report.problems.some((p) => p.category === CATEGORY.bloomBaseDelta && /root .* missing or damaged/.test(p.reason))).toBe(true);
    expect(categories.has(CATEGORY.log)).toBe(true);
    const repaired = await repairDatabase(file, { nowMs: NOW });
    expect(repaired.after.problems).toEqual([]);
    expect(repaired.after.ok).toBe(true);
    const data = must(load(file)) as ChannelData;
    expect(data.history.length).toBeGreaterThan(0);
    expect(data.history.length).toBeLessThan(240);
    expectExact(data, new Map([...alice.wires, ...bob.wires]), [...alice.messages, ...bob.messages]);
    // the writer carries on over the repaired file
    await commitAll(file, sends(220, seededRandom(seed + 1), "alice").deltas.slice(200), 5);
    expect(inspectDatabase(file, { nowMs: NOW }).problems).toEqual([]);
  }, 30_000);

  it("orphans: a root nothing refers to and a base whose root is missing are reported and repaired", async () => {
    const file = tempDb();
    const { deltas, wires, messages } = sends(120, seededRandom(seed + 3));
    await commitAll(file, deltas, 30);
    const [root] = rows(file, CATEGORY.bloomBase) as Array<{ key: Buffer; payload: Buffer }>;
    const raw = new Database(file);
    // an extra whole base with a fresh sequence that nothing refers to
    const orphanKey = Buffer.from(root?.key as Buffer);
    orphanKey[orphanKey.length - 1] = 0xee;
    raw.prepare("INSERT INTO kv (category, key, payload) VALUES (CAST(? AS BLOB), ?, ?)").run(CATEGORY.bloomBase, orphanKey, Buffer.from(frameRow(CATEGORY.bloomBase, orphanKey, 0xeen, new Uint8Array(BLOOM_BYTES))));
    raw.close();
    let report = inspectDatabase(file, { nowMs: NOW });
    expect(report.problems.map((p) => [p.category, p.action, /orphan root/.test(p.reason)])).toEqual([[CATEGORY.bloomBase, "delete", true]]);
    expect(load(file).ok).toBe(true);
    let repaired = await repairDatabase(file, { nowMs: NOW });
    expect(repaired.after.ok).toBe(true);
    expectExact(must(load(file)) as ChannelData, wires, messages);
    // now remove the root itself: every base on it is reported, and repair keeps nothing that cannot be rebuilt
    const again = new Database(file);
    again.prepare("DELETE FROM kv WHERE category = CAST(? AS BLOB) AND key = ?").run(CATEGORY.bloomBase, root?.key);
    again.close();
    report = inspectDatabase(file, { nowMs: NOW });
    expect(report.problems.filter((p) => p.category === CATEGORY.bloomBaseDelta).length).toBeGreaterThan(0);
    expect(report.problems.every((p) => p.category !== CATEGORY.bloomBaseDelta || /root .* missing/.test(p.reason))).toBe(true);
    expect(load(file).ok).toBe(false);
    repaired = await repairDatabase(file, { nowMs: NOW });
    expect(repaired.after.problems).toEqual([]);
    const data = must(load(file)) as ChannelData;
    expectExact(data, wires, messages);
    expect(data.history.length).toBeLessThan(120);
  }, 30_000);

  it("repair deletes the bases and roots that the rows it set aside were the last to refer to", async () => {
    const file = tempDb();
    const { deltas } = sends(90, seededRandom(seed + 4));
    const ack = emptyDelta("c", 500n);
    ack.outgoing.remove.push(...deltas.map((d) => d.history.append[0]?.messageId as string));
    await commitAll(file, [...deltas, ack], 30);
    expect(rows(file, CATEGORY.bloomBaseDelta).length).toBeGreaterThan(0);
    // every history message damaged: each is set aside with its diff row, and nothing needs any base
    const raw = new Database(file);
    const update = raw.prepare("UPDATE kv SET payload = ? WHERE category = CAST(? AS BLOB) AND key = ?");
    for (const row of rows(file, CATEGORY.log)) update.run(Buffer.concat([row.payload, Buffer.from([0xff])]), CATEGORY.log, row.key);
    raw.close();
    const repaired = await repairDatabase(file, { nowMs: NOW });
    expect(repaired.after.problems).toEqual([]);
    expect(repaired.changes.some((c) => c.action === "deleted" && c.category === CATEGORY.bloomBase)).toBe(true);
    expect(rows(file, CATEGORY.bloomBase).length + rows(file, CATEGORY.bloomBaseDelta).length).toBe(0);
  }, 30_000);
});
