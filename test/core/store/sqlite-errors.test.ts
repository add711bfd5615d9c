import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import type { ChannelData } from "../../../src/core/store/contract.js";
import { SqlitePersistence } from "../../../src/core/store/sqlite.js";
import { emptyDelta, message } from "./fixtures.js";
import { buildNimLayoutDb, cleanTemp, must, tempDb } from "./helpers.js";

afterEach(cleanTemp);

const bigBloom = new Uint8Array(4096).fill(0x5a);

describe("SqlitePersistence: typed failures", () => {
  it("gives a second writer in the same process E_STORE_LOCKED, and the lock returns on close", async () => {
    const file = tempDb();
    const first = must(SqlitePersistence.open(file));
    const second = SqlitePersistence.open(file);
    expect(second.ok).toBe(false);
    if (!second.ok) {
      expect(second.error.code).toBe("E_STORE_LOCKED");
      expect(second.error.message).toMatch(/in use by another sds process \(pid \d+/);
    }
    await first.close();
    must(SqlitePersistence.open(file)).closeSync();
  });

  it("gives a second writer in another process E_STORE_LOCKED", async () => {
    const file = tempDb();
    const first = must(SqlitePersistence.open(file));
    const script = `import { SqlitePersistence } from ${JSON.stringify(path.resolve("src/core/store/sqlite.ts"))};
const r = SqlitePersistence.open(${JSON.stringify(file)}); console.log(r.ok ? "opened" : r.error.code + " " + r.error.message);`;
    const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8" });
    expect(child.stdout).toMatch(/^E_STORE_LOCKED .*pid/);
    await first.close();
  });

  it("refuses another user_version with E_STORE_VERSION and a clear message", () => {
    const file = tempDb();
    const db = new Database(file);
    db.pragma("user_version = 7");
    db.close();
    const result = SqlitePersistence.open(file);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe("E_STORE_VERSION");
      expect(result.error.message).toMatch(/got 7, expected 1/);
    }
  });

  it("refuses a file that is not a database with E_STORE_CORRUPT", () => {
    const file = tempDb();
    fs.writeFileSync(file, Buffer.alloc(8192, 0x41));
    const result = SqlitePersistence.open(file);
    expect(!result.ok && result.error.code).toBe("E_STORE_CORRUPT");
  });

  it("maps a read-only file to E_STORE_READONLY", () => {
    if (process.getuid?.() === 0) return; // root ignores permissions
    const file = tempDb();
    must(SqlitePersistence.open(file)).closeSync();
    fs.chmodSync(file, 0o444);
    fs.rmSync(`${file}-wal`, { force: true });
    fs.rmSync(`${file}-shm`, { force: true });
    const result = SqlitePersistence.open(file);
    expect(!result.ok && result.error.code).toMatch(/E_STORE_READONLY|E_STORE_IO/);
  });

  it("disk full: typed E_STORE_FULL, no partial snapshot, recovers when space returns", async () => {
    const file = tempDb();
    const store = must(SqlitePersistence.open(file));
    const first = emptyDelta("c", 1n);
    first.history.append.push(message("c", "m1", 1n));
    must(await store.commit([first]));
    const pages = store.db.pragma("page_count", { simple: true }) as number;
    store.db.pragma(`max_page_count = ${pages + 2}`);
    const big = emptyDelta("c", 99n);
    for (let i = 0; i < 20; i++) {
      const m = message("c", `big${i}`, BigInt(2 + i), { bloomFilter: bigBloom });
      big.outgoing.upsert.push({ message: m, sendTimeMs: i, resendAttempts: 0 });
      big.history.append.push(m);
    }
    const failed = await store.commit([big]);
    expect(failed.ok).toBe(false);
    if (!failed.ok) expect(failed.error.code).toBe("E_STORE_FULL");
    expect(store.db.inTransaction).toBe(false);
    const during = must(await store.loadChannel("c")) as ChannelData;
    expect(during.meta.lamportTimestamp).toBe(1n);
    expect(during.history.map((m) => m.messageId)).toEqual(["m1"]);
    expect(during.meta.outgoingBuffer).toEqual([]);
    store.db.pragma("max_page_count = 1073741823");
    must(await store.commit([big]));
    const after = must(await store.loadChannel("c")) as ChannelData;
    expect(after.meta.lamportTimestamp).toBe(99n);
    expect(after.history).toHaveLength(21);
    expect(store.db.pragma("quick_check", { simple: true })).toBe("ok");
    await store.close();
  });

  it("maps a lock held by another connection past busy_timeout to E_STORE_BUSY", async () => {
    const file = tempDb();
    const store = must(SqlitePersistence.open(file, { busyTimeoutMs: 50 }));
    const intruder = new Database(file);
    intruder.exec("BEGIN IMMEDIATE");
    const result = await store.commit([emptyDelta("c", 1n)]);
    expect(!result.ok && result.error.code).toBe("E_STORE_BUSY");
    intruder.exec("ROLLBACK");
    intruder.close();
    must(await store.commit([emptyDelta("c", 1n)]));
    await store.close();
  });

  it("fails a load on a damaged row with E_STORE_CORRUPT instead of a partial snapshot", async () => {
    const file = tempDb();
    const store = must(SqlitePersistence.open(file));
    const delta = emptyDelta("c", 5n);
    delta.history.append.push(message("c", "m1", 1n));
    must(await store.commit([delta]));
    store.db.prepare("UPDATE kv SET payload = zeroblob(3) || substr(payload, 4) WHERE category = CAST('sds.log' AS BLOB)").run();
    const result = await store.loadChannel("c");
    expect(!result.ok && result.error.code).toBe("E_STORE_CORRUPT");
    await store.close();
  });

  it("refuses a message the nim layout cannot carry (no lamport) with a typed error and writes nothing", async () => {
    const file = tempDb();
    const store = must(SqlitePersistence.open(file));
    const delta = emptyDelta("c", 5n);
    const ephemeral = message("c", "e1", 1n);
    delete ephemeral.lamportTimestamp;
    delta.history.append.push(ephemeral);
    const result = await store.commit([delta]);
    expect(!result.ok && result.error.code).toBe("E_INPUT_INVALID");
    expect(must(await store.loadChannel("c"))).toBeUndefined();
    await store.close();
  });
});

describe("SqlitePersistence: foreign (nim / logos-delivery) files", () => {
  it("loads a nim-layout file (single-blob sds.meta + sds.log), then moves buffers to rows on the first commit", async () => {
    const file = tempDb();
    const { meta } = buildNimLayoutDb(file);
    let store = must(SqlitePersistence.open(file));
    const loaded = must(await store.loadChannel("nimchan")) as ChannelData;
    expect(loaded.meta).toEqual(meta);
    expect(loaded.history.map((m) => m.messageId)).toEqual(["h1", "h2", "h3"]);
    const delta = emptyDelta("nimchan", meta.lamportTimestamp + 1n);
    const sent = message("nimchan", "out2", meta.lamportTimestamp + 1n);
    delta.outgoing.upsert.push({ message: sent, sendTimeMs: 5, resendAttempts: 0 });
    delta.history.append.push(sent);
    must(await store.commit([delta]));
    await store.close();
    store = must(SqlitePersistence.open(file));
    const after = must(await store.loadChannel("nimchan")) as ChannelData;
    expect(after.meta.outgoingBuffer.map((e) => e.message.messageId)).toEqual(["out1", "out2"]);
    expect(after.meta.incomingBuffer).toEqual(meta.incomingBuffer);
    expect(after.meta.outgoingRepairBuffer).toEqual(meta.outgoingRepairBuffer);
    expect(after.meta.incomingRepairBuffer).toEqual(meta.incomingRepairBuffer);
    expect(after.history.map((m) => m.messageId)).toEqual(["h1", "h2", "h3", "out2"]);
    const blob = store.db.prepare("SELECT length(payload) AS n FROM kv WHERE category = CAST('sds.meta' AS BLOB)").get() as { n: number };
    expect(blob.n).toBeLessThan(16);
    await store.close();
  });
});
