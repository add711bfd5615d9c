/**
 * Benchmark of the durable channel store (SqlitePersistence, WAL, synchronous = FULL unless
 * SDS_BENCH_SYNC says otherwise), in one run:
 *  1. per-operation durable commit of a send (outgoing entry + history message + lamport)
 *     against a raw better-sqlite3 single-row transaction of the same message in the same mode;
 *  2. the same commit with a backlog of 0 / 100 / 1,000 unacknowledged messages (time and WAL
 *     bytes per operation — they must not grow with the backlog);
 *  3. group commit of a bulk send: many operations per transaction, messages per second.
 * Messages carry a spec-sized bloom filter (18,752 bytes) unless SDS_BENCH_BLOOM_BYTES is set.
 * Run: `node --import tsx bench/store.ts`. Prints tables, then one JSON line.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import type { ChannelDelta, UnacknowledgedMessage } from "../src/core/store/contract.js";
import { encodeMessage } from "../src/core/protocol/wire/index.js";
import type { SdsMessage } from "../src/core/protocol/types.js";
import { SqlitePersistence } from "../src/core/store/sqlite.js";
import type { SynchronousMode } from "../src/core/store/sqlite-db.js";
import { emitFigures, printTable } from "./lib.js";

const SYNC = (process.env.SDS_BENCH_SYNC ?? "FULL") as SynchronousMode;
const BLOOM_BYTES = Number(process.env.SDS_BENCH_BLOOM_BYTES ?? 18_752);
const OPS = Number(process.env.SDS_BENCH_OPS ?? 300);
const BULK = Number(process.env.SDS_BENCH_BULK ?? 10_000);
const BATCH = Number(process.env.SDS_BENCH_BATCH ?? 1_000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sds-bench-store-"));
const bloom = new Uint8Array(BLOOM_BYTES).map((_, i) => (i * 131) & 0xff);

function message(channelId: string, index: number): SdsMessage {
  const id = index.toString(16).padStart(64, "0");
  return {
    senderId: "alice",
    messageId: id,
    channelId,
    lamportTimestamp: BigInt(1_700_000_000_000 + index),
    causalHistory: [1, 2].map((back) => ({ messageId: Math.max(0, index - back).toString(16).padStart(64, "0") })),
    bloomFilter: bloom,
    content: new TextEncoder().encode(`line ${index} of the benchmark`),
    repairRequest: [],
  };
}

function sendDelta(channelId: string, index: number, evictUpTo?: number): ChannelDelta {
  const m = message(channelId, index);
  const entry: UnacknowledgedMessage = { message: m, sendTimeMs: 1_700_000_000_000 + index, resendAttempts: 0, wire: encodeMessage(m, { dialect: "spec" }) };
  return {
    channelId,
    lamportTimestamp: BigInt(1_700_000_000_000 + index),
    outgoing: { upsert: [entry], remove: evictUpTo === undefined ? [] : [message(channelId, evictUpTo).messageId] },
    incoming: { upsert: [], remove: [] },
    outgoingRepair: { upsert: [], remove: [] },
    incomingRepair: { upsert: [], remove: [] },
    history: { append: [m], evict: [] },
    retrievalHints: [],
  };
}

function openStore(name: string): SqlitePersistence {
  const opened = SqlitePersistence.open(path.join(dir, name), { synchronous: SYNC });
  if (!opened.ok) throw opened.error;
  return opened.value;
}

function walBytes(file: string): number {
  try {
    return fs.statSync(`${file}-wal`).size;
  } catch {
    return 0;
  }
}

/** Raw better-sqlite3: one INSERT of the message bytes per transaction, same pragmas. */
function rawPerOp(): { msPerOp: number; walBytesPerOp: number } {
  const file = path.join(dir, "raw.db");
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma(`synchronous = ${SYNC}`);
  db.exec("CREATE TABLE kv (category BLOB NOT NULL, key BLOB NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (category, key)) WITHOUT ROWID");
  const insert = db.prepare("INSERT OR REPLACE INTO kv (category, key, payload) VALUES (?, ?, ?)");
  const category = Buffer.from("raw");
  const payloads = Array.from({ length: OPS }, (_, i) => encodeMessage(message("raw", i), { dialect: "nim" }));
  const one = db.transaction((i: number) => insert.run(category, Buffer.from(`k${i}`), payloads[i]));
  db.pragma("wal_autocheckpoint = 0");
  for (let i = 0; i < 20; i++) one(i);
  const walBefore = walBytes(file);
  const start = performance.now();
  for (let i = 20; i < OPS; i++) one(i);
  const perOp = (performance.now() - start) / (OPS - 20);
  const walBytesPerOp = (walBytes(file) - walBefore) / (OPS - 20);
  db.close();
  return { msPerOp: perOp, walBytesPerOp };
}

/** Our per-operation commit with `backlog` unacknowledged messages kept constant. */
function oursPerOp(backlog: number): { msPerOp: number; walBytesPerOp: number } {
  const name = `ours-${backlog}.db`;
  const store = openStore(name);
  const channelId = "bench";
  for (let from = 0; from < backlog; from += BATCH) {
    const result = store.commitSync(Array.from({ length: Math.min(BATCH, backlog - from) }, (_, i) => sendDelta(channelId, from + i)));
    if (!result.ok) throw result.error;
  }
  store.db.pragma("wal_checkpoint(TRUNCATE)");
  store.db.pragma("wal_autocheckpoint = 0");
  const deltas = Array.from({ length: OPS }, (_, i) => sendDelta(channelId, backlog + i, backlog > 0 ? i : undefined));
  for (let i = 0; i < 20; i++) if (!store.commitSync([deltas[i] as ChannelDelta]).ok) throw new Error("commit failed");
  const walBefore = walBytes(path.join(dir, name));
  const start = performance.now();
  for (let i = 20; i < OPS; i++) {
    const result = store.commitSync([deltas[i] as ChannelDelta]);
    if (!result.ok) throw result.error;
  }
  const msPerOp = (performance.now() - start) / (OPS - 20);
  const walBytesPerOp = (walBytes(path.join(dir, name)) - walBefore) / (OPS - 20);
  store.closeSync();
  return { msPerOp, walBytesPerOp };
}

/** Group commit: BULK sends, BATCH per transaction. */
function bulk(): number {
  const store = openStore("bulk.db");
  const deltas = Array.from({ length: BULK }, (_, i) => sendDelta("bulk", i, i >= 100 ? i - 100 : undefined));
  const start = performance.now();
  for (let from = 0; from < BULK; from += BATCH) {
    const result = store.commitSync(deltas.slice(from, from + BATCH));
    if (!result.ok) throw result.error;
  }
  const seconds = (performance.now() - start) / 1000;
  store.closeSync();
  return BULK / seconds;
}

try {
  const rawResult = rawPerOp();
  const raw = rawResult.msPerOp;
  const backlogs = [0, 100, 1000].map((backlog) => ({ backlog, ...oursPerOp(backlog) }));
  const base = backlogs[0] as { msPerOp: number; walBytesPerOp: number };
  const bulkRate = bulk();
  printTable(`per-operation durable commit (synchronous = ${SYNC}, bloom ${BLOOM_BYTES} B)`, [
    { subject: "raw better-sqlite3, 1 row / transaction", "ms/op": raw, "ops/s": 1000 / raw, ratio: 1, "WAL B/op": rawResult.walBytesPerOp },
    ...backlogs.map((b) => ({ subject: `SqlitePersistence.commit, backlog ${b.backlog}`, "ms/op": b.msPerOp, "ops/s": 1000 / b.msPerOp, ratio: b.msPerOp / raw, "WAL B/op": b.walBytesPerOp })),
  ]);
  printTable("cost against backlog (target ≤ 2× of backlog 0)", backlogs.map((b) => ({ backlog: b.backlog, "ms/op": b.msPerOp, "time ×": b.msPerOp / base.msPerOp, "WAL B/op": b.walBytesPerOp, "bytes ×": b.walBytesPerOp / base.walBytesPerOp })));
  printTable(`group commit, ${BATCH} operations per transaction (target ≥ 20,000 msgs/s)`, [{ messages: BULK, "msgs/s": bulkRate }]);
  emitFigures("store", {
    synchronous: SYNC,
    bloomBytes: BLOOM_BYTES,
    rawMsPerOp: raw,
    rawWalBytesPerOp: rawResult.walBytesPerOp,
    bytesRatioToRaw: base.walBytesPerOp / rawResult.walBytesPerOp,
    oursMsPerOp: base.msPerOp,
    ratioToRaw: base.msPerOp / raw,
    backlog100TimeRatio: (backlogs[1] as { msPerOp: number }).msPerOp / base.msPerOp,
    backlog1000TimeRatio: (backlogs[2] as { msPerOp: number }).msPerOp / base.msPerOp,
    walBytesPerOp: Object.fromEntries(backlogs.map((b) => [`backlog${b.backlog}`, b.walBytesPerOp])),
    backlog1000BytesRatio: (backlogs[2] as { walBytesPerOp: number }).walBytesPerOp / base.walBytesPerOp,
    bulkMessagesPerSecond: bulkRate,
  });
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
