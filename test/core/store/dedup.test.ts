/**
 * A send stores its large message once: the outgoing row refers to the identical `sds.log`
 * row and keeps the published bytes around the bloom filter. These tests pin that the
 * reference round-trips exactly, survives the history row being evicted while the message is
 * still unacknowledged, and is not used when the bytes differ.
 */
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { encodeMessage } from "../../../src/core/protocol/wire/index.js";
import type { ChannelData } from "../../../src/core/store/contract.js";
import { inspectDatabase } from "../../../src/core/store/inspect.js";
import { SqlitePersistence } from "../../../src/core/store/sqlite.js";
import { emptyDelta, message } from "./fixtures.js";
import { cleanTemp, must, tempDb } from "./helpers.js";

afterEach(cleanTemp);
const bloom = new Uint8Array(18_752).map((_, i) => (i * 7) & 0xff);

function outRowBytes(file: string): number[] {
  const db = new Database(file, { readonly: true });
  const rows = db.prepare("SELECT length(payload) AS n FROM kv WHERE category = CAST('sdstk.out' AS BLOB) ORDER BY key").all() as Array<{ n: number }>;
  db.close();
  return rows.map((row) => row.n);
}

describe("outgoing rows refer to their history row", () => {
  it("stores a sent message once and restores message and wire exactly", async () => {
    const file = tempDb();
    let store = must(SqlitePersistence.open(file));
    const m = message("c", "m1", 5n, { bloomFilter: bloom });
    const wire = encodeMessage(m, { dialect: "spec" });
    const delta = emptyDelta("c", 5n);
    delta.outgoing.upsert.push({ message: m, sendTimeMs: 1, resendAttempts: 0, wire });
    delta.history.append.push(m);
    must(await store.commit([delta]));
    expect(outRowBytes(file)[0]).toBeLessThan(1000);
    await store.close();
    store = must(SqlitePersistence.open(file));
    const data = must(await store.loadChannel("c")) as ChannelData;
    expect(data.meta.outgoingBuffer[0]).toEqual({ message: m, sendTimeMs: 1, resendAttempts: 0, wire });
    // a later resend update keeps the reference
    const resend = emptyDelta("c", 6n);
    resend.outgoing.upsert.push({ message: m, sendTimeMs: 2, resendAttempts: 1, wire });
    must(await store.commit([resend]));
    expect(outRowBytes(file)[0]).toBeLessThan(1000);
    expect(((must(await store.loadChannel("c")) as ChannelData).meta.outgoingBuffer[0])?.resendAttempts).toBe(1);
    await store.close();
  });

  it("gives the outgoing row its message back when the history row is evicted first", async () => {
    const file = tempDb();
    let store = must(SqlitePersistence.open(file));
    const m = message("c", "m1", 5n, { bloomFilter: bloom });
    const delta = emptyDelta("c", 5n);
    delta.outgoing.upsert.push({ message: m, sendTimeMs: 1, resendAttempts: 0, wire: encodeMessage(m, { dialect: "nim" }) });
    delta.history.append.push(m);
    must(await store.commit([delta]));
    const evict = emptyDelta("c", 7n);
    evict.history.evict.push("m1");
    must(await store.commit([evict]));
    expect(outRowBytes(file)[0]).toBeGreaterThan(bloom.length);
    await store.close();
    store = must(SqlitePersistence.open(file));
    const data = must(await store.loadChannel("c")) as ChannelData;
    expect(data.history).toEqual([]);
    expect(data.meta.outgoingBuffer[0]?.message).toEqual(m);
    expect(inspectDatabase(file).ok).toBe(true);
    await store.close();
  });

  it("stores the message itself when it differs from the history row", async () => {
    const file = tempDb();
    const store = must(SqlitePersistence.open(file));
    const m = message("c", "m1", 5n, { bloomFilter: bloom });
    const delta = emptyDelta("c", 5n);
    delta.history.append.push(m);
    delta.outgoing.upsert.push({ message: { ...m, content: Uint8Array.of(9) }, sendTimeMs: 1, resendAttempts: 0 });
    must(await store.commit([delta]));
    expect(outRowBytes(file)[0]).toBeGreaterThan(bloom.length);
    expect((must(await store.loadChannel("c")) as ChannelData).meta.outgoingBuffer[0]?.message.content).toEqual(Uint8Array.of(9));
    await store.close();
  });

  it("reports an outgoing row whose history row is gone as a problem", async () => {
    const file = tempDb();
    const store = must(SqlitePersistence.open(file));
    const m = message("c", "m1", 5n);
    const delta = emptyDelta("c", 5n);
    delta.outgoing.upsert.push({ message: m, sendTimeMs: 1, resendAttempts: 0 });
    delta.history.append.push(m);
    must(await store.commit([delta]));
    store.db.prepare("DELETE FROM kv WHERE category = CAST('sds.log' AS BLOB)").run();
    expect((await store.loadChannel("c")).ok).toBe(false);
    await store.close();
    const report = inspectDatabase(file);
    expect(report.ok).toBe(false);
    expect(report.problems.some((p) => p.category === "sdstk.out" && /not in sds.log/.test(p.reason))).toBe(true);
  });
});
