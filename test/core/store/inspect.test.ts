import fs from "node:fs";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import type { ChannelData } from "../../../src/core/store/contract.js";
import { seededRandom } from "../../../src/core/store/faulty.js";
import { inspectDatabase } from "../../../src/core/store/inspect.js";
import { repairDatabase } from "../../../src/core/store/repair.js";
import { SqlitePersistence } from "../../../src/core/store/sqlite.js";
import { emptyDelta, message } from "./fixtures.js";
import { NOW, buildNimLayoutDb, buildOurDb, cleanTemp, must, tempDb } from "./helpers.js";

afterEach(cleanTemp);
const seed = Number(process.env.SDS_SEED ?? Date.now() % 1_000_000);

describe("inspectDatabase", () => {
  it("reports header facts, a per-channel summary and passing checks on a healthy database of ours", async () => {
    const file = tempDb();
    await buildOurDb(file);
    const report = inspectDatabase(file, { nowMs: NOW });
    expect(report.ok).toBe(true);
    expect(report.format).toBe("sdstk");
    expect(report.header.userVersion).toBe(1);
    expect(report.header.journalMode).toBe("wal");
    expect(report.header.pageSizeBytes).toBeGreaterThanOrEqual(512);
    expect(report.header.encoding).toBe("UTF-8");
    expect(report.integrity.ok).toBe(true);
    const alpha = report.channels.find((c) => c.channelId === "alpha");
    expect(alpha?.lamportTimestamp).toBe("1700000100");
    expect(alpha?.historyCount).toBe(4);
    expect(alpha?.historyLamportMin).toBe("1700000001");
    expect(alpha?.unacknowledged.map((u) => [u.messageId, u.ageMs, u.resendAttempts])).toEqual([["alpha-m3", 15000, 1], ["alpha-m4", 20000, 2]]);
    expect(alpha?.waiting).toEqual([{ messageId: "alpha-w", waitingFor: ["lost-1"], receivedAtMs: NOW - 1000 }]);
    expect(alpha?.outgoingRepair[0]?.dueInMs).toBe(30_000);
    expect(report.problems).toEqual([]);
  });

  it("lists a channel's history oldest first", async () => {
    const file = tempDb();
    await buildOurDb(file);
    const report = inspectDatabase(file, { channel: "beta", history: true, nowMs: NOW });
    expect(report.channels.map((c) => c.channelId)).toEqual(["beta"]);
    expect(report.history?.messages.map((m) => m.messageId)).toEqual(["beta-m1", "beta-m2", "beta-m3", "beta-m4"]);
  });

  it("reads a logos-delivery / nim layout database (single-blob sds.meta, sds.log, nothing of ours)", () => {
    const file = tempDb();
    buildNimLayoutDb(file);
    const report = inspectDatabase(file, { nowMs: NOW });
    expect(report.ok).toBe(true);
    expect(report.format).toBe("foreign");
    const channel = report.channels[0];
    expect(channel?.layout).toBe("blob");
    expect(channel?.historyCount).toBe(3);
    expect(channel?.unacknowledged.map((u) => u.messageId)).toEqual(["out1"]);
    expect(channel?.waiting[0]?.waitingFor).toEqual(["gone"]);
  });

  it("fails the invariant checks it should (lamport behind history, orphans, stale waits)", async () => {
    const file = tempDb();
    const store = must(SqlitePersistence.open(file));
    const delta = emptyDelta("c", 1n);
    delta.history.append.push(message("c", "late", 50n));
    delta.incoming.upsert.push({ message: message("c", "w", 2n), missingDeps: ["late"] });
    must(await store.commit([delta]));
    await store.close();
    const db = new Database(file);
    db.prepare("DELETE FROM kv WHERE category = CAST('sds.meta' AS BLOB)").run();
    db.close();
    const report = inspectDatabase(file);
    const failed = report.checks.filter((c) => !c.ok).map((c) => c.name);
    expect(failed).toContain("orphans");
    expect(failed).toContain("dependencies");
    expect(failed).toContain("rows"); // the meta's checksum row is now about nothing
    expect(report.ok).toBe(false);
  });

  it(`detects every one of 1,000 random row corruptions and never throws (seed ${seed})`, async () => {
    console.log(`inspect corruption seed=${seed} (set SDS_SEED to replay)`);
    const file = tempDb();
    await buildOurDb(file);
    const random = seededRandom(seed);
    const db = new Database(file);
    const rows = db.prepare("SELECT category, key, payload FROM kv").all() as Array<{ category: Buffer; key: Buffer; payload: Buffer }>;
    const update = db.prepare("UPDATE kv SET payload = ? WHERE category = ? AND key = ?");
    const pick = (n: number) => Math.floor(random() * n);
    let trials = 0;
    const kinds: Record<string, number> = {};
    while (trials < 1000) {
      const row = rows[pick(rows.length)] as (typeof rows)[number];
      const original = row.payload;
      const mutated = Buffer.from(original);
      const kind = ["flip", "flip", "flip", "truncate", "extend", "zero", "misdirect"][pick(7)] as string;
      let next: Buffer = mutated;
      if (kind === "flip") for (let i = 0, n = 1 + pick(8); i < n; i++) mutated[pick(mutated.length)] ^= 1 << pick(8);
      else if (kind === "truncate") next = mutated.subarray(0, pick(mutated.length));
      else if (kind === "extend") next = Buffer.concat([mutated, Buffer.from([pick(256), pick(256)])]);
      else if (kind === "zero") mutated.fill(0, pick(mutated.length));
      else {
        const other = rows.filter((r) => r.category.equals(row.category) && !r.key.equals(row.key));
        if (other.length === 0) continue;
        next = (other[pick(other.length)] as (typeof rows)[number]).payload;
      }
      if (next.equals(original)) continue;
      update.run(next, row.category, row.key);
      let report;
      try {
        report = inspectDatabase(file, { nowMs: NOW });
      } finally {
        update.run(original, row.category, row.key);
      }
      const where = `${row.category.toString()} ${row.key.toString("hex")} ${kind}`;
      expect(report.ok, where).toBe(false);
      expect(report.problems.length, where).toBeGreaterThan(0);
      kinds[kind] = (kinds[kind] ?? 0) + 1;
      trials += 1;
    }
    db.close();
    console.log(`corruptions detected by kind: ${JSON.stringify(kinds)}`);
    expect(inspectDatabase(file, { nowMs: NOW }).ok).toBe(true);
  }, 60_000);
});

describe("repairDatabase", () => {
  it("backs up, quarantines bad rows, re-checksums, rebuilds and leaves a loadable, passing database", async () => {
    const file = tempDb();
    await buildOurDb(file);
    const db = new Database(file);
    db.prepare("UPDATE kv SET payload = payload || x'00' WHERE category = CAST('sdstk.out' AS BLOB) AND key = ?").run(Buffer.from("0005616c706861" + "0008616c7068612d6d33", "hex"));
    db.prepare("UPDATE kv SET payload = x'00' || substr(payload, 2) WHERE category = CAST('sdstk.sum' AS BLOB) AND length(key) > 20 LIMIT 1").run();
    db.prepare("DELETE FROM kv WHERE category = CAST('sds.meta' AS BLOB) AND key = ?").run(Buffer.from("000462657461", "hex"));
    db.close();
    expect(inspectDatabase(file, { nowMs: NOW }).ok).toBe(false);
    const result = await repairDatabase(file, { nowMs: NOW });
    expect(fs.existsSync(result.backupPath)).toBe(true);
    expect(inspectDatabase(result.backupPath, { nowMs: NOW }).ok).toBe(false);
    const actions = result.changes.map((c) => c.action);
    expect(actions).toContain("quarantined");
    expect(actions).toContain("rebuilt-meta");
    expect(result.after.checks.filter((c) => !c.ok), JSON.stringify(result.after.problems)).toEqual([]);
    expect(result.after.ok).toBe(true);
    expect(result.after.checks.find((c) => c.name === "quarantine")?.detail).toMatch(/1 row/);
    const store = must(SqlitePersistence.open(file));
    const alpha = must(await store.loadChannel("alpha")) as ChannelData;
    expect(alpha.meta.outgoingBuffer.map((e) => e.message.messageId)).toEqual(["alpha-m4"]);
    await store.close();
  });

  it("adopts a nim-layout database without changing its sds rows", async () => {
    const file = tempDb();
    buildNimLayoutDb(file);
    const before = new Database(file, { readonly: true }).prepare("SELECT hex(payload) AS p FROM kv ORDER BY category, key").all();
    const result = await repairDatabase(file, { nowMs: NOW });
    expect(result.changes.map((c) => c.action)).toEqual(["adopted"]);
    expect(result.after.ok).toBe(true);
    expect(result.after.format).toBe("sdstk");
    const after = new Database(file, { readonly: true }).prepare("SELECT hex(payload) AS p FROM kv WHERE category IN (CAST('sds.meta' AS BLOB), CAST('sds.log' AS BLOB)) ORDER BY category, key").all();
    expect(after).toEqual(before);
  });

  it("refuses to repair a database another writer holds", async () => {
    const file = tempDb();
    await buildOurDb(file);
    const store = must(SqlitePersistence.open(file));
    await expect(repairDatabase(file)).rejects.toMatchObject({ code: "E_STORE_LOCKED" });
    await store.close();
  });
});

describe("inspectDatabase on another user_version", () => {
  it("reports the version as a failed check instead of refusing to look", () => {
    const file = tempDb();
    const db = new Database(file);
    db.exec("CREATE TABLE kv (category BLOB NOT NULL, key BLOB NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (category, key)) WITHOUT ROWID");
    db.pragma("user_version = 9");
    db.close();
    const report = inspectDatabase(file);
    expect(report.ok).toBe(false);
    expect(report.checks.find((c) => c.name === "user_version")).toMatchObject({ ok: false, detail: "user_version 9 (expected 1)" });
  });
});
