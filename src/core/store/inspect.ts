/**
 * `inspect-db` as a library: header facts read from the file itself, SQLite's own
 * integrity check, the row pass (`inspect-rows.ts`), per-channel summaries (lamport,
 * history span, unacknowledged messages with age and attempts, messages waiting on
 * dependencies, repair timers) and protocol invariants, each a named check that passes or
 * fails. Opens the database read-only; repair lives in `repair.ts`.
 */
import fs from "node:fs";
import type Database from "better-sqlite3";
import { StoreError } from "../errors.js";
import { type ChannelRows, type InspectProblem, inspectRows } from "./inspect-rows.js";
import { Kv, STORE_USER_VERSION, openDatabase, toStoreError } from "./sqlite-db.js";
import { sortHistory } from "./channel-read.js";
import type { SdsMessage } from "../protocol/types.js";

/** Facts from the 100-byte SQLite header and pragmas. */
export interface DatabaseHeader {
  fileBytes: number;
  pageSizeBytes: number;
  pageCount: number;
  freelistPages: number;
  encoding: string;
  userVersion: number;
  applicationId: number;
  journalMode: string;
  walBytes: number;
  sqliteVersion: string;
  /** File format numbers: 1 legacy, 2 WAL. */
  writeFormat: number;
  readFormat: number;
}

/** One named invariant and whether it holds. */
export interface InspectCheck {
  name: string;
  ok: boolean;
  detail: string;
}

/** Per-channel state, as the table shows it. Times are absolute Unix ms; ages relative to `nowMs`. */
export interface ChannelSummary {
  channelId: string;
  layout: "rows" | "blob" | "none";
  lamportTimestamp: string | undefined;
  historyCount: number;
  historyLamportMin: string | undefined;
  historyLamportMax: string | undefined;
  unacknowledged: Array<{ messageId: string; sendTimeMs: number; ageMs: number; resendAttempts: number }>;
  waiting: Array<{ messageId: string; waitingFor: string[]; receivedAtMs: number | undefined }>;
  outgoingRepair: Array<{ messageId: string; dueAtMs: number; dueInMs: number }>;
  incomingRepair: Array<{ messageId: string; dueAtMs: number; dueInMs: number }>;
  retrievalHints: number;
}

/** A listed history message (`--channel NAME --history`). */
export interface HistoryLine {
  messageId: string;
  lamportTimestamp: string;
  senderId: string;
  contentBytes: number;
  causalHistory: string[];
}

/** The whole inspection. `ok` is false when any check failed. */
export interface InspectReport {
  path: string;
  header: DatabaseHeader;
  integrity: { mode: "quick_check" | "integrity_check"; ok: boolean; messages: string[] };
  format: "sdstk" | "foreign";
  rowCounts: Record<string, number>;
  channels: ChannelSummary[];
  checks: InspectCheck[];
  problems: InspectProblem[];
  history?: { channelId: string; messages: HistoryLine[] };
  ok: boolean;
}

/** Options of {@link inspectDatabase}. */
export interface InspectOptions {
  /** Run `integrity_check` instead of `quick_check`. */
  full?: boolean;
  /** Only this channel in the table (and its history with `history`). */
  channel?: string;
  history?: boolean;
  /** Clock for ages and due times (default Date.now()). */
  nowMs?: number;
  /** Caps checked per channel. */
  historyEntriesMax?: number;
  bufferEntriesMax?: number;
}

function readHeader(path: string, db: Database.Database): DatabaseHeader {
  const bytes = Buffer.alloc(100);
  const fd = fs.openSync(path, "r");
  try {
    fs.readSync(fd, bytes, 0, 100, 0);
  } finally {
    fs.closeSync(fd);
  }
  const rawPageSize = bytes.readUInt16BE(16);
  const encodings: Record<number, string> = { 1: "UTF-8", 2: "UTF-16le", 3: "UTF-16be" };
  let walBytes = 0;
  try {
    walBytes = fs.statSync(`${path}-wal`).size;
  } catch {
    walBytes = 0;
  }
  return {
    fileBytes: fs.statSync(path).size,
    pageSizeBytes: rawPageSize === 1 ? 65536 : rawPageSize,
    pageCount: db.pragma("page_count", { simple: true }) as number,
    freelistPages: db.pragma("freelist_count", { simple: true }) as number,
    encoding: encodings[bytes.readUInt32BE(56)] ?? (db.pragma("encoding", { simple: true }) as string),
    userVersion: db.pragma("user_version", { simple: true }) as number,
    applicationId: db.pragma("application_id", { simple: true }) as number,
    journalMode: String(db.pragma("journal_mode", { simple: true })),
    walBytes,
    sqliteVersion: (db.prepare("SELECT sqlite_version() AS v").get() as { v: string }).v,
    writeFormat: bytes[18] ?? 0,
    readFormat: bytes[19] ?? 0,
  };
}

function summarize(rows: ChannelRows, nowMs: number): ChannelSummary {
  const lamports = rows.history.map((m) => m.lamportTimestamp ?? 0n);
  const min = lamports.reduce<bigint | undefined>((a, b) => (a === undefined || b < a ? b : a), undefined);
  const max = lamports.reduce<bigint | undefined>((a, b) => (a === undefined || b > a ? b : a), undefined);
  const blob = rows.meta;
  const outgoing = [...(blob?.outgoingBuffer ?? []), ...rows.outgoing.map((e) => e.value)];
  const incoming = [...(blob?.incomingBuffer ?? []), ...rows.incoming.map((e) => e.value)];
  const outRepair = [...(blob?.outgoingRepairBuffer ?? []), ...rows.outgoingRepair.map((e) => e.value)];
  const inRepair = [...(blob?.incomingRepairBuffer ?? []), ...rows.incomingRepair.map((e) => e.value)];
  return {
    channelId: rows.channelId,
    layout: rows.meta === undefined ? "none" : rows.blobBuffers ? "blob" : "rows",
    lamportTimestamp: rows.meta?.lamportTimestamp.toString(),
    historyCount: rows.history.length,
    historyLamportMin: min?.toString(),
    historyLamportMax: max?.toString(),
    unacknowledged: outgoing.map((e) => ({ messageId: e.message.messageId, sendTimeMs: e.sendTimeMs, ageMs: nowMs - e.sendTimeMs, resendAttempts: e.resendAttempts })),
    waiting: incoming.map((e) => ({ messageId: e.message.messageId, waitingFor: e.missingDeps, receivedAtMs: e.receivedAtMs })),
    outgoingRepair: outRepair.map((e) => ({ messageId: e.entry.messageId, dueAtMs: e.minTimeRepairReqMs, dueInMs: e.minTimeRepairReqMs - nowMs })),
    incomingRepair: inRepair.map((e) => ({ messageId: e.entry.messageId, dueAtMs: e.minTimeRepairRespMs, dueInMs: e.minTimeRepairRespMs - nowMs })),
    retrievalHints: rows.hints,
  };
}

function invariantChecks(channels: ChannelRows[], options: InspectOptions): InspectCheck[] {
  const historyMax = options.historyEntriesMax ?? 10_000;
  const bufferMax = options.bufferEntriesMax ?? 10_000;
  const orphans: string[] = [];
  const lamportBad: string[] = [];
  const capsBad: string[] = [];
  const staleWaits: string[] = [];
  const counterBad: string[] = [];
  for (const rows of channels) {
    if (rows.meta === undefined) orphans.push(rows.channelId);
    const lamport = rows.meta?.lamportTimestamp;
    const sent = [...(rows.meta?.outgoingBuffer ?? []).map((e) => e.message), ...rows.outgoing.map((e) => e.value.message)];
    const ahead = [...rows.history, ...sent].filter((m) => lamport !== undefined && (m.lamportTimestamp ?? 0n) > lamport);
    if (ahead.length > 0) lamportBad.push(`${rows.channelId} (lamport ${lamport}, ${ahead.length} message(s) ahead, e.g. ${ahead[0]?.messageId} at ${ahead[0]?.lamportTimestamp})`);
    const buffered = rows.outgoing.length + rows.incoming.length + (rows.meta?.outgoingBuffer.length ?? 0) + (rows.meta?.incomingBuffer.length ?? 0);
    if (rows.history.length > historyMax || buffered > bufferMax) capsBad.push(`${rows.channelId} (history ${rows.history.length}/${historyMax}, buffered ${buffered}/${bufferMax})`);
    const delivered = new Set(rows.history.map((m) => m.messageId));
    for (const entry of [...(rows.meta?.incomingBuffer ?? []), ...rows.incoming.map((e) => e.value)]) {
      const met = entry.missingDeps.filter((dep) => delivered.has(dep));
      if (met.length > 0) staleWaits.push(`${rows.channelId}/${entry.message.messageId} waits for ${met.join(", ")} already delivered`);
    }
    const sequences = [rows.outgoing, rows.incoming, rows.outgoingRepair, rows.incomingRepair].flat().map((e) => e.sequence);
    const maxSequence = sequences.reduce((a, b) => (b > a ? b : a), 0n);
    if (rows.nextSequence !== undefined && rows.nextSequence <= maxSequence) counterBad.push(`${rows.channelId} (next ${rows.nextSequence ?? "missing"}, rows up to ${maxSequence})`);
  }
  const check = (name: string, bad: string[], good: string): InspectCheck => ({ name, ok: bad.length === 0, detail: bad.length === 0 ? good : bad.join("; ") });
  return [
    check("orphans", orphans.map((id) => `channel ${id} has rows but no sds.meta`), "every channel's rows have an sds.meta row"),
    check("lamport", lamportBad, "no history or unacknowledged message is ahead of its channel's lamport"),
    check("caps", capsBad, `history ≤ ${historyMax} and buffers ≤ ${bufferMax} per channel`),
    check("dependencies", staleWaits, "no buffered message waits for a delivered one"),
    check("sequence", counterBad, "each channel's insertion counter is past its rows"),
  ];
}

/**
 * Inspects the database at `path` read-only. Throws {@link StoreError} only when the file
 * cannot be opened as SQLite at all (missing, not a database, locked exclusively).
 */
export function inspectDatabase(path: string, options: InspectOptions = {}): InspectReport {
  if (!fs.existsSync(path)) throw new StoreError("E_STORE_NOT_FOUND", `no database at ${path}`, { path });
  const db = openDatabase(path, { readonly: true, busyTimeoutMs: 2000, skipVersionCheck: true });
  try {
    return inspectOpen(path, db, options);
  } catch (error) {
    throw toStoreError(error, "inspecting the database", path);
  } finally {
    db.close();
  }
}

/** Inspects an already open connection (used by repair to re-check its work). */
export function inspectOpen(path: string, db: Database.Database, options: InspectOptions = {}): InspectReport {
  const nowMs = options.nowMs ?? Date.now();
  const header = readHeader(path, db);
  const mode = options.full ? "integrity_check" : "quick_check";
  const messages = (db.pragma(mode) as Array<Record<string, string>>).map((row) => Object.values(row)[0] ?? "");
  const integrity = { mode, ok: messages.length === 1 && messages[0] === "ok", messages } as const;
  const hasKv = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'kv'").get() as { sql: string } | undefined;
  const checks: InspectCheck[] = [
    { name: "integrity", ok: integrity.ok, detail: integrity.ok ? `${mode}: ok` : messages.slice(0, 10).join("; ") },
    { name: "user_version", ok: header.userVersion === STORE_USER_VERSION, detail: `user_version ${header.userVersion} (expected ${STORE_USER_VERSION})` },
    { name: "schema", ok: hasKv !== undefined && /WITHOUT\s+ROWID/i.test(hasKv.sql), detail: hasKv ? "table kv (category, key, payload) WITHOUT ROWID" : "no kv table" },
  ];
  if (hasKv === undefined) return { path, header, integrity: { ...integrity, messages: [...messages] }, format: "foreign", rowCounts: {}, channels: [], checks, problems: [], ok: false };
  const pass = inspectRows(new Kv(db));
  checks.push({ name: "rows", ok: pass.problems.length === 0, detail: pass.problems.length === 0 ? "every row decodes and passes its checksum" : `${pass.problems.length} row(s) failed (see problems)` });
  const all = [...pass.channels.values()].sort((a, b) => (a.channelId < b.channelId ? -1 : 1));
  checks.push(...invariantChecks(all, options));
  if (pass.unknownCategories.length > 0) checks.push({ name: "categories", ok: true, detail: `other categories present (left alone): ${pass.unknownCategories.join(", ")}` });
  if (pass.quarantined > 0) checks.push({ name: "quarantine", ok: true, detail: `${pass.quarantined} row(s) set aside by an earlier repair in sdstk.quarantine` });
  const shown = options.channel === undefined ? all : all.filter((rows) => rows.channelId === options.channel);
  const report: InspectReport = {
    path,
    header,
    integrity: { ...integrity, messages: [...messages] },
    format: pass.ours ? "sdstk" : "foreign",
    rowCounts: pass.rowCounts,
    channels: shown.map((rows) => summarize(rows, nowMs)),
    checks,
    problems: pass.problems,
    ok: checks.every((check) => check.ok),
  };
  if (options.history && options.channel !== undefined) {
    const rows = pass.channels.get(options.channel);
    report.history = { channelId: options.channel, messages: sortHistory([...(rows?.history ?? [])]).map(historyLine) };
  }
  return report;
}

function historyLine(message: SdsMessage): HistoryLine {
  return {
    messageId: message.messageId,
    lamportTimestamp: (message.lamportTimestamp ?? 0n).toString(),
    senderId: message.senderId,
    contentBytes: message.content?.length ?? 0,
    causalHistory: message.causalHistory.map((entry) => entry.messageId),
  };
}
