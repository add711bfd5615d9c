import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildNimLayoutDb, buildOurDb, cleanTemp, tempDb } from "../core/store/helpers.js";

const BIN = path.resolve("bin/run.js");

function sds(...args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(() => {
  if (!fs.existsSync(path.resolve("dist/commands/inspect-db.js"))) spawnSync("npx", ["tsc", "-b"], { stdio: "inherit" });
});
afterEach(cleanTemp);

describe("sds inspect-db (built CLI)", () => {
  it("prints header, channels and checks for a database of ours, exit 0", async () => {
    const file = tempDb();
    await buildOurDb(file);
    const run = sds("inspect-db", file);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/user_version\s+│ 1/);
    expect(run.stdout).toMatch(/sds-toolkit format/);
    expect(run.stdout).toMatch(/alpha\s+│ 1700000100/);
    expect(run.stdout).toMatch(/unacknowledged\s+│ alpha-m3/);
    expect(run.stdout).not.toMatch(/FAIL/);
  });

  it("--json gives a machine-readable report; --channel --history lists messages", async () => {
    const file = tempDb();
    await buildOurDb(file);
    const run = sds("inspect-db", file, "--json", "--channel", "beta", "--history");
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.ok).toBe(true);
    expect(report.header.journalMode).toBe("wal");
    expect(report.channels.map((c: { channelId: string }) => c.channelId)).toEqual(["beta"]);
    expect(report.history.messages.map((m: { messageId: string }) => m.messageId)).toEqual(["beta-m1", "beta-m2", "beta-m3", "beta-m4"]);
  });

  it("reads a logos-delivery / nim layout database", () => {
    const file = tempDb();
    buildNimLayoutDb(file);
    const run = sds("inspect-db", file, "--json");
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.format).toBe("foreign");
    expect(report.channels[0].layout).toBe("blob");
    expect(report.channels[0].historyCount).toBe(3);
  });

  it("exits 4 on corrupt rows (a few random corruptions), never crashes, and --repair mends with a backup", async () => {
    const file = tempDb();
    await buildOurDb(file);
    const db = new Database(file);
    const rows = db.prepare("SELECT category, key FROM kv WHERE category IN (CAST('sds.log' AS BLOB), CAST('sdstk.out' AS BLOB), CAST('sdstk.in' AS BLOB))").all() as Array<{ category: Buffer; key: Buffer }>;
    for (const row of rows.slice(0, 3)) db.prepare("UPDATE kv SET payload = substr(payload, 1, length(payload) - 1) || x'ff' WHERE category = ? AND key = ?").run(row.category, row.key);
    db.close();
    const broken = sds("inspect-db", file);
    expect(broken.status).toBe(4);
    expect(broken.stdout).toMatch(/FAIL/);
    expect(broken.stdout).toMatch(/problem row\(s\)/);
    expect(broken.stderr).not.toMatch(/at .*\.js:\d+/);
    const brokenJson = JSON.parse(sds("inspect-db", file, "--json").stdout);
    expect(brokenJson.ok).toBe(false);
    expect(brokenJson.problems.length).toBeGreaterThanOrEqual(3);
    const repaired = sds("inspect-db", file, "--repair", "--json");
    expect(repaired.status, repaired.stderr).toBe(0);
    const result = JSON.parse(repaired.stdout);
    expect(result.repair.changes.filter((c: { action: string }) => c.action === "quarantined").length).toBeGreaterThanOrEqual(3);
    expect(fs.existsSync(`${file}.backup`)).toBe(true);
    expect(sds("inspect-db", `${file}.backup`).status).toBe(4);
    expect(sds("inspect-db", file).status).toBe(0);
  });

  it("is read-only without --repair and gives typed errors for missing or non-database files", async () => {
    const file = tempDb();
    await buildOurDb(file);
    const before = fs.statSync(file).mtimeMs;
    sds("inspect-db", file, "--full");
    expect(fs.statSync(file).mtimeMs).toBe(before);
    const missing = sds("inspect-db", path.join(path.dirname(file), "nope.db"));
    expect(missing.status).toBe(3);
    expect(missing.stderr).toMatch(/E_STORE_NOT_FOUND/);
    const garbage = tempDb("garbage.db");
    fs.writeFileSync(garbage, Buffer.alloc(4096, 0x42));
    const notDb = sds("inspect-db", garbage);
    expect(notDb.status).toBe(3);
    expect(notDb.stderr).toMatch(/E_STORE_CORRUPT/);
  });
});
