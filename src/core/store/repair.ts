/**
 * `inspect-db --repair`: take the writer lock, write a backup (`<db>.backup`, an online
 * SQLite backup), then in one transaction set aside every row that fails its checks (moved
 * to `sdstk.quarantine` with the reason, never deleted), re-checksum rows whose checksum row
 * alone is damaged, drop checksum rows about nothing and bloom bases nothing refers to any
 * more, rebuild missing `sds.meta` rows and insertion counters — and say exactly what
 * changed. Finally re-inspect.
 */
import fs from "node:fs";
import { StoreError } from "../errors.js";
import { type InspectReport, type InspectOptions, inspectOpen } from "./inspect.js";
import { type InspectProblem, inspectRows } from "./inspect-rows.js";
import { loadBloomState } from "./bloom-rows.js";
import { channelOf } from "./inspect-bases.js";
import { acquireWriterLock } from "./lock.js";
import { ProtoWriter } from "../protocol/wire/proto.js";
import { CATEGORY, FORMAT_SETTING, FORMAT_VERSION, aboutKey, channelKey, frameRow, sumRow } from "./rows.js";
import { encodeChannelMeta } from "./snapshot.js";
import { Kv, openDatabase, toStoreError } from "./sqlite-db.js";
import { adoptForeignRows } from "./sqlite-write.js";
import { describeOwner, globalSettingKey } from "./sqlite.js";

/** One change repair made. */
export interface RepairChange {
  action: "quarantined" | "re-checksummed" | "deleted" | "rebuilt-meta" | "rebuilt-counter" | "adopted";
  category: string;
  key: string;
  channelId: string | undefined;
  reason: string;
}

/** What repair did and the inspection after it. */
export interface RepairResult {
  backupPath: string;
  changes: RepairChange[];
  after: InspectReport;
}

const fromHex = (text: string) => Uint8Array.from(Buffer.from(text, "hex"));

function quarantineBody(problem: InspectProblem, payload: Uint8Array, nowMs: number): Uint8Array {
  return new ProtoWriter().stringField(1, problem.category).bytesField(2, fromHex(problem.key)).bytesField(3, payload).stringField(4, problem.reason).uint64Field(5, nowMs).finish();
}

function fix(kv: Kv, problem: InspectProblem, nowMs: number, changes: RepairChange[]): void {
  const rowKey = fromHex(problem.key);
  const base = { category: problem.category, key: problem.key, channelId: problem.channelId, reason: problem.reason };
  if (problem.action === "quarantine") {
    const payload = kv.get(problem.category, rowKey);
    if (payload === undefined) return;
    const qKey = aboutKey(problem.category, rowKey);
    kv.put(CATEGORY.quarantine, qKey, frameRow(CATEGORY.quarantine, qKey, 0n, quarantineBody(problem, payload, nowMs)));
    kv.delete(problem.category, rowKey);
    if (problem.category === CATEGORY.meta || problem.category === CATEGORY.log) kv.delete(CATEGORY.sum, aboutKey(problem.category, rowKey));
    // a history message set aside takes its bloom diff row with it (its base goes when nothing refers to it)
    const diff = problem.category === CATEGORY.log ? kv.get(CATEGORY.bloom, rowKey) : undefined;
    if (diff !== undefined) {
      const diffKey = aboutKey(CATEGORY.bloom, rowKey);
      kv.put(CATEGORY.quarantine, diffKey, frameRow(CATEGORY.quarantine, diffKey, 0n, quarantineBody({ ...problem, category: CATEGORY.bloom }, diff, nowMs)));
      kv.delete(CATEGORY.bloom, rowKey);
    }
    changes.push({ action: "quarantined", ...base });
  } else if (problem.action === "rebuild-sum") {
    const payload = kv.get(problem.category, rowKey);
    if (payload === undefined) return;
    const sum = sumRow(problem.category, rowKey, payload);
    kv.put(CATEGORY.sum, sum.key, sum.payload);
    changes.push({ action: "re-checksummed", ...base });
  } else if (problem.action === "delete") {
    kv.delete(problem.category, rowKey);
    changes.push({ action: "deleted", ...base });
  } else if (problem.action === "rebuild-counter") {
    kv.delete(problem.category, rowKey);
    changes.push({ action: "deleted", ...base, reason: `${problem.reason}; counter rebuilt below` });
  }
}

/**
 * Deletes the bloom bases (and roots) that rows set aside above were the last to refer to,
 * as the writer would have in the transaction that dropped them.
 */
function pruneBases(kv: Kv, changes: RepairChange[]): void {
  const channels = new Set<string>();
  for (const category of [CATEGORY.bloomBase, CATEGORY.bloomBaseDelta]) for (const row of kv.scanCategory(category)) channels.add(channelOf(row.key) ?? "");
  channels.delete("");
  for (const channelId of channels) {
    const deleted: Array<{ category: string; rowKey: Uint8Array }> = [];
    try {
      loadBloomState(kv, channelId, deleted);
    } catch {
      continue; // a row still damaged: the re-inspection reports it
    }
    for (const row of deleted) changes.push({ action: "deleted", category: row.category, key: Buffer.from(row.rowKey).toString("hex"), channelId, reason: "bloom base no longer referred to after the rows above were set aside" });
  }
}

/** Rebuilds what derives from other rows: missing meta rows (lamport = highest seen) and counters. */
function rebuild(kv: Kv, changes: RepairChange[]): void {
  const pass = inspectRows(kv);
  for (const rows of pass.channels.values()) {
    const sequences = [rows.outgoing, rows.incoming, rows.outgoingRepair, rows.incomingRepair].flat().map((e) => e.sequence);
    const maxSequence = sequences.reduce((a, b) => (b > a ? b : a), 0n);
    const counterBad = rows.nextSequence !== undefined && rows.nextSequence <= maxSequence;
    if (rows.meta === undefined || counterBad) {
      const lamports = [...rows.history, ...rows.outgoing.map((e) => e.value.message)].map((m) => m.lamportTimestamp ?? 0n);
      const lamport = rows.meta?.lamportTimestamp ?? lamports.reduce((a, b) => (b > a ? b : a), 0n);
      const meta = rows.meta ?? { schemaVersion: 1 as const, lamportTimestamp: lamport, outgoingBuffer: [], incomingBuffer: [], outgoingRepairBuffer: [], incomingRepairBuffer: [] };
      const payload = encodeChannelMeta(meta, { nextSequence: maxSequence + 1n });
      const rowKey = channelKey(rows.channelId);
      kv.put(CATEGORY.meta, rowKey, payload);
      if (pass.ours) {
        const sum = sumRow(CATEGORY.meta, rowKey, payload);
        kv.put(CATEGORY.sum, sum.key, sum.payload);
      }
      const key = Buffer.from(rowKey).toString("hex");
      if (rows.meta === undefined) changes.push({ action: "rebuilt-meta", category: CATEGORY.meta, key, channelId: rows.channelId, reason: `no sds.meta; lamport set to the highest seen (${lamport})` });
      else changes.push({ action: "rebuilt-counter", category: CATEGORY.meta, key, channelId: rows.channelId, reason: `next insertion sequence set to ${maxSequence + 1n}` });
    }
  }
}

/** Writes `<path>.backup` with SQLite's online backup (WAL content included). */
async function backup(db: import("better-sqlite3").Database, path: string): Promise<string> {
  const backupPath = `${path}.backup`;
  fs.rmSync(backupPath, { force: true });
  await db.backup(backupPath);
  return backupPath;
}

/**
 * Repairs the database at `path` (see the module comment). Throws {@link StoreError}:
 * E_STORE_LOCKED when a writer holds it, E_STORE_* when it cannot be opened or written.
 */
export async function repairDatabase(path: string, options: InspectOptions = {}): Promise<RepairResult> {
  if (!fs.existsSync(path)) throw new StoreError("E_STORE_NOT_FOUND", `no database at ${path}`, { path });
  const lock = acquireWriterLock(path, () => describeOwner(path));
  try {
    const db = openDatabase(path, { fileMustExist: true });
    try {
      const backupPath = await backup(db, path);
      const kv = new Kv(db);
      const nowMs = options.nowMs ?? Date.now();
      const changes: RepairChange[] = [];
      db.transaction(() => {
        const formatKey = globalSettingKey(FORMAT_SETTING);
        const ours = kv.get(CATEGORY.settings, formatKey) !== undefined;
        for (const problem of inspectRows(kv).problems) fix(kv, problem, nowMs, changes);
        pruneBases(kv, changes);
        if (!ours) {
          const count = adoptForeignRows(kv);
          changes.push({ action: "adopted", category: CATEGORY.sum, key: "", channelId: undefined, reason: `foreign file: added ${count} checksum row(s) and the format marker` });
        }
        if (kv.get(CATEGORY.settings, formatKey) === undefined) kv.put(CATEGORY.settings, formatKey, frameRow(CATEGORY.settings, formatKey, 0n, Uint8Array.of(FORMAT_VERSION)));
        rebuild(kv, changes);
      }).immediate();
      return { backupPath, changes, after: inspectOpen(path, db, options) };
    } finally {
      db.close();
    }
  } catch (error) {
    throw toStoreError(error, "repairing the database", path);
  } finally {
    lock.release();
  }
}
