/**
 * Files written by earlier builds must keep loading. `fixtures/bloom-v1.db` was written by the
 * store as of commit 65b1cf0 (every bloom base a whole 18,752-byte `sdstk.bbase` row), from
 * the seeded workload below: two senders' spec-dialect messages with growing filters in the
 * history, sent messages' published bytes in outgoing rows, acknowledgements in later groups,
 * evictions. The test recomputes what the workload leaves and compares the loaded history
 * filters and outgoing wire bytes byte for byte, then checks inspection finds nothing and
 * that a later write to the old file (new rows beside old bases) reads back just as exactly.
 * Regenerate only to pin a new format: `SDS_WRITE_BLOOM_FIXTURE=1 npx vitest run <this file>`.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { encodeMessage } from "../../../src/core/protocol/wire/index.js";
import type { SdsMessage } from "../../../src/core/protocol/types.js";
import type { ChannelData, ChannelDelta } from "../../../src/core/store/contract.js";
import { seededRandom } from "../../../src/core/store/faulty.js";
import { inspectDatabase } from "../../../src/core/store/inspect.js";
import { SqlitePersistence } from "../../../src/core/store/sqlite.js";
import { emptyDelta, message } from "./fixtures.js";
import { NOW, cleanTemp, must, tempDb } from "./helpers.js";

afterEach(cleanTemp);
const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "bloom-v1.db");
const BLOOM_BYTES = 18_752;
const CHANNEL = "fixture-channel";

interface Model {
  history: Map<string, SdsMessage>;
  outgoing: Map<string, Uint8Array>;
}

/** The fixture's workload (seed 4104, fixed): groups of deltas, and the state they leave. */
function workload(seed: number, sends: number, first = 0): { groups: ChannelDelta[][]; model: Model } {
  const random = seededRandom(seed);
  const filters = new Map<string, Uint8Array>([
    ["alice", new Uint8Array(BLOOM_BYTES).map((_, i) => (i * 7) & 0x11)],
    ["bob", new Uint8Array(BLOOM_BYTES).map((_, i) => (i * 5) & 0x21)],
  ]);
  const model: Model = { history: new Map(), outgoing: new Map() };
  const pending: string[] = [];
  const groups: ChannelDelta[][] = [];
  let group: ChannelDelta[] = [];
  for (let n = first; n < first + sends; n++) {
    const sender = random() < 0.75 ? "alice" : "bob";
    const filter = filters.get(sender) as Uint8Array;
    for (let k = 0; k < 10; k++) {
      const bit = Math.floor(random() * BLOOM_BYTES * 8);
      filter[bit >> 3] = (filter[bit >> 3] as number) | (1 << (bit & 7));
    }
    const full = message(CHANNEL, `m${n}-${sender}`, BigInt(100 + n), { senderId: sender, bloomFilter: filter.slice() });
    const delta = emptyDelta(CHANNEL, BigInt(100 + n));
    delta.history.append.push(full);
    model.history.set(full.messageId, full);
    if (sender === "alice") {
      const wire = encodeMessage(full, { dialect: "spec" });
      delta.outgoing.upsert.push({ message: { ...full, bloomFilter: undefined }, sendTimeMs: NOW + n, resendAttempts: 0, wire });
      model.outgoing.set(full.messageId, wire);
      // acknowledge an older send (never one of this group: the realistic order)
      if (pending.length > 12 && random() < 0.6) {
        const [acknowledged] = pending.splice(Math.floor(random() * (pending.length - 8)), 1);
        delta.outgoing.remove.push(acknowledged as string);
        model.outgoing.delete(acknowledged as string);
      }
    }
    if (random() < 0.05 && model.history.size > 4) {
      const oldest = model.history.keys().next().value as string;
      delta.history.evict.push(oldest);
      model.history.delete(oldest);
    }
    group.push(delta);
    if (group.length >= 1 + Math.floor(random() * 12)) {
      groups.push(group);
      for (const d of group) for (const u of d.outgoing.upsert) pending.push(u.message.messageId);
      group = [];
    }
  }
  if (group.length > 0) groups.push(group);
  return { groups, model };
}

async function loaded(file: string): Promise<{ history: Array<[string, string]>; outgoing: Array<[string, string]> }> {
  const store = must(SqlitePersistence.open(file));
  const data = must(await store.loadChannel(CHANNEL)) as ChannelData;
  await store.close();
  return {
    history: data.history.map((m) => [m.messageId, Buffer.from(m.bloomFilter as Uint8Array).toString("hex")]),
    outgoing: data.meta.outgoingBuffer.map((entry) => [entry.message.messageId, Buffer.from(entry.wire as Uint8Array).toString("hex")]),
  };
}

function expected(model: Model): { history: Array<[string, string]>; outgoing: Array<[string, string]> } {
  return {
    history: [...model.history.values()].map((m) => [m.messageId, Buffer.from(m.bloomFilter as Uint8Array).toString("hex")]),
    outgoing: [...model.outgoing].map(([id, wire]) => [id, Buffer.from(wire).toString("hex")]),
  };
}

async function write(file: string, groups: ChannelDelta[][]): Promise<void> {
  const store = must(SqlitePersistence.open(file));
  for (const group of groups) must(store.commitSync(group));
  await store.close();
}

describe("bloom rows of files written by earlier builds", () => {
  it.runIf(process.env.SDS_WRITE_BLOOM_FIXTURE === "1")("writes the fixture", async () => {
    fs.mkdirSync(path.dirname(FIXTURE), { recursive: true });
    const file = tempDb();
    await write(file, workload(4104, 70).groups);
    expect(fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0).toBe(0);
    const db = new Database(file);
    db.exec("VACUUM");
    db.close();
    fs.copyFileSync(file, FIXTURE);
  });

  it("loads the fixture's history filters and outgoing wire bytes exactly", async () => {
    const file = tempDb();
    fs.copyFileSync(FIXTURE, file);
    const want = expected(workload(4104, 70).model);
    expect(want.outgoing.length).toBeGreaterThan(10);
    const got = await loaded(file);
    expect(got.history.map(([id]) => id)).toEqual(want.history.map(([id]) => id));
    expect(got).toEqual(want);
    expect(inspectDatabase(file, { nowMs: NOW }).problems).toEqual([]);
  });

  it("keeps reading exactly after new writes land beside the old rows", async () => {
    const file = tempDb();
    fs.copyFileSync(FIXTURE, file);
    const before = workload(4104, 70);
    const after = workload(77, 120, 70);
    await write(file, after.groups);
    const got = await loaded(file);
    const model: Model = { history: new Map([...before.model.history, ...after.model.history]), outgoing: new Map([...before.model.outgoing, ...after.model.outgoing]) };
    // each workload's model has its own evictions applied (the later one evicts only its own messages)
    const want = expected(model);
    expect(got.outgoing).toEqual(want.outgoing);
    expect(new Map(got.history)).toEqual(new Map(want.history));
    expect(got.history.length).toBeGreaterThan(150);
    expect(inspectDatabase(file, { nowMs: NOW }).problems).toEqual([]);
  });
});
