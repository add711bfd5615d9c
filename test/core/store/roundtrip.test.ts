import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ChannelData, Persistence } from "../../../src/core/store/contract.js";
import { MemoryPersistence } from "../../../src/core/store/memory.js";
import { SqlitePersistence } from "../../../src/core/store/sqlite.js";
import { emptyDelta, message } from "./fixtures.js";

const dirs: string[] = [];
function tempDb(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sds-store-"));
  dirs.push(dir);
  return path.join(dir, "sds.db");
}
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function must<T>(result: { ok: true; value: T } | { ok: false; error: Error }): T {
  if (!result.ok) throw result.error;
  return result.value;
}

interface Backend {
  name: string;
  open(): Persistence;
  reopen(previous: Persistence): Promise<Persistence>;
}

const backends: Backend[] = [
  { name: "memory", open: () => new MemoryPersistence(), reopen: async (previous) => previous },
  {
    name: "sqlite",
    open: () => must(SqlitePersistence.open(currentPath)),
    reopen: async (previous) => {
      await previous.close();
      return must(SqlitePersistence.open(currentPath));
    },
  },
];
let currentPath = "";

/** A state touching every field, in the given dialect's message shapes. */
async function writeEverything(store: Persistence, channelId: string): Promise<void> {
  const m1 = message(channelId, "m1", 10n, { causalHistory: [{ messageId: "m0", retrievalHint: Uint8Array.of(9), senderId: "bob" }] });
  const m2 = message(channelId, "m2", 11n, { repairRequest: [{ messageId: "lost", senderId: "carol" }] });
  const m3 = message(channelId, "m3", 11n, { senderId: "" });
  const delta = emptyDelta(channelId, 42n);
  delta.outgoing.upsert.push({ message: m2, sendTimeMs: 1_700_000_000_123, resendAttempts: 1, possibleAckCount: 1, wire: Uint8Array.of(1, 2) });
  delta.outgoing.upsert.push({ message: m1, sendTimeMs: 1_700_000_000_000, resendAttempts: 0 });
  delta.incoming.upsert.push({ message: message(channelId, "w1", 30n), missingDeps: ["d1", "d2"], receivedAtMs: 5, retrievalHint: Uint8Array.of(7) });
  delta.outgoingRepair.upsert.push({ entry: { messageId: "d1", senderId: "bob" }, minTimeRepairReqMs: 100, attempts: 2, firstMissingAtMs: 50 });
  delta.incomingRepair.upsert.push({ entry: { messageId: "m1", senderId: "dave" }, cachedMessage: Uint8Array.of(0xca, 0xfe), minTimeRepairRespMs: 200 });
  delta.history.append.push(m2, m1, m3);
  delta.retrievalHints.push({ messageId: "m1", hint: Uint8Array.of(0xaa) });
  must(await store.commit([delta]));
}

describe.each(backends)("$name store: restart round trips", (backend) => {
  it("restores every piece of state exactly, history oldest first by (lamport, id)", async () => {
    currentPath = tempDb();
    let store = backend.open();
    await writeEverything(store, "chan");
    const before = must(await store.loadChannel("chan")) as ChannelData;
    store = await backend.reopen(store);
    const after = must(await store.loadChannel("chan")) as ChannelData;
    expect(after).toEqual(before);
    expect(after.meta.lamportTimestamp).toBe(42n);
    expect(after.history.map((m) => m.messageId)).toEqual(["m1", "m2", "m3"]);
    expect(after.meta.outgoingBuffer.map((e) => e.message.messageId)).toEqual(["m2", "m1"]);
    expect(after.meta.outgoingBuffer[0]?.wire).toEqual(Uint8Array.of(1, 2));
    expect(after.meta.incomingBuffer[0]?.missingDeps).toEqual(["d1", "d2"]);
    expect(after.meta.outgoingRepairBuffer[0]).toEqual({ entry: { messageId: "d1", senderId: "bob" }, minTimeRepairReqMs: 100, attempts: 2, firstMissingAtMs: 50 });
    expect(after.retrievalHints?.get("m1")).toEqual(Uint8Array.of(0xaa));
    await store.close();
  });

  it("applies upserts in place, removals, evictions and keeps insertion order", async () => {
    currentPath = tempDb();
    let store = backend.open();
    await writeEverything(store, "chan");
    const update = emptyDelta("chan", 43n);
    update.outgoing.upsert.push({ message: message("chan", "m2", 11n), sendTimeMs: 9, resendAttempts: 2 });
    update.outgoing.upsert.push({ message: message("chan", "m4", 43n), sendTimeMs: 10, resendAttempts: 0 });
    update.outgoing.remove.push("m1");
    update.incoming.remove.push("w1");
    update.history.evict.push("m1");
    must(await store.commit([update]));
    store = await backend.reopen(store);
    const data = must(await store.loadChannel("chan")) as ChannelData;
    expect(data.meta.outgoingBuffer.map((e) => [e.message.messageId, e.resendAttempts])).toEqual([["m2", 2], ["m4", 0]]);
    expect(data.meta.incomingBuffer).toEqual([]);
    expect(data.history.map((m) => m.messageId)).toEqual(["m2", "m3"]);
    expect(data.retrievalHints?.has("m1") ?? false).toBe(false);
    await store.close();
  });

  it("keeps content/bloom absence exactly, and supports the nim contract methods", async () => {
    currentPath = tempDb();
    let store = backend.open();
    const sync = message("c2", "s1", 5n);
    delete sync.content;
    delete sync.bloomFilter;
    must(await store.saveChannelMeta("c2", { schemaVersion: 1, lamportTimestamp: 7n, outgoingBuffer: [{ message: sync, sendTimeMs: 1, resendAttempts: 0 }], incomingBuffer: [], outgoingRepairBuffer: [], incomingRepairBuffer: [] }));
    must(await store.updateHistory("c2", { append: [sync, message("c2", "s2", 6n)], evict: [] }));
    must(await store.setRetrievalHint("c2", "s2", Uint8Array.of(3)));
    store = await backend.reopen(store);
    const data = must(await store.loadChannel("c2")) as ChannelData;
    expect(data.meta.lamportTimestamp).toBe(7n);
    expect(data.meta.outgoingBuffer[0]?.message).toEqual(sync);
    expect(data.history[0]).toEqual(sync);
    expect(data.retrievalHints?.get("s2")).toEqual(Uint8Array.of(3));
    // saveChannelMeta replaces the buffers wholesale
    must(await store.saveChannelMeta("c2", { schemaVersion: 1, lamportTimestamp: 8n, outgoingBuffer: [], incomingBuffer: [], outgoingRepairBuffer: [], incomingRepairBuffer: [] }));
    expect((must(await store.loadChannel("c2")) as ChannelData).meta.outgoingBuffer).toEqual([]);
    expect(must(await store.listChannels())).toEqual(["c2"]);
    must(await store.dropChannel("c2"));
    expect(must(await store.loadChannel("c2"))).toBeUndefined();
    expect(must(await store.listChannels())).toEqual([]);
    await store.close();
  });

  it("group-commits many operations on several channels atomically", async () => {
    currentPath = tempDb();
    let store = backend.open();
    const deltas = [];
    for (let i = 1; i <= 50; i++) {
      const channelId = i % 2 === 0 ? "even" : "odd";
      const delta = emptyDelta(channelId, BigInt(i));
      const m = message(channelId, `m${i}`, BigInt(i));
      delta.outgoing.upsert.push({ message: m, sendTimeMs: i, resendAttempts: 0 });
      delta.history.append.push(m);
      if (i > 10) delta.outgoing.remove.push(`m${i - 10}`);
      deltas.push(delta);
    }
    must(await store.commit(deltas));
    store = await backend.reopen(store);
    const even = must(await store.loadChannel("even")) as ChannelData;
    expect(even.meta.lamportTimestamp).toBe(50n);
    expect(even.history).toHaveLength(25);
    expect(even.meta.outgoingBuffer.map((e) => e.message.messageId)).toEqual(["m42", "m44", "m46", "m48", "m50"]);
    await store.close();
  });
});
