/**
 * Benchmark of the durable channel store (SqlitePersistence, WAL, synchronous = FULL unless
 * SDS_BENCH_SYNC says otherwise), in one run:
 *  1. per-operation durable commit of a send (outgoing entry + history message + lamport)
 *     against a raw better-sqlite3 single-row transaction of the same message in the same mode;
 *  2. the same commit with a backlog of 0 / 100 / 1,000 unacknowledged messages (time and WAL
 *     bytes per operation — they must not grow with the backlog);
 *  3. group commit of a bulk send: many operations per transaction, messages per second, next
 *     to the raw SQLite floor of the rows such a send must write (no encoding, no checksums).
 *     The headline figure (`bulk*`, the first row) acknowledges every send in a LATER
 *     transaction than the one that writes it (acks BATCH behind): under write-before-release
 *     nothing of a transaction is published before it commits, so no peer can acknowledge a
 *     send in the transaction that creates it. A secondary row (`bulkSameTransactionAcks*`)
 *     acknowledges the send ACK_LAG (100) earlier, mostly inside the same transaction, whose
 *     outgoing row the store then never writes: a best case a real channel does not reach.
 * Messages carry a spec-sized bloom filter (18,752 bytes) unless SDS_BENCH_BLOOM_BYTES is set,
 * evolving as a sender's filter does (10 more bits per message), in the engine's shape (the
 * filter is in the published bytes, not in the stored message); group commit is also
 * measured with 64-byte filters in the same run, with CPU time and WAL bytes per message
 * (which, unlike msgs/s, hardly depend on the load of a shared machine).
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
const SMALL_BLOOM_BYTES = 64;
/** Secondary group-commit row: each send acknowledges the send this many messages earlier (mostly in the same transaction). */
const ACK_LAG = Number(process.env.SDS_BENCH_ACK_LAG ?? 100);
/** Headline group commit: acknowledgements trail their sends by a whole transaction (the realistic order). */
const LATER_ACK_LAG = Math.max(ACK_LAG, BATCH);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sds-bench-store-"));

/**
 * A sender's bloom filter as it evolves: it starts from a fixed pattern and every message
 * sets k = 10 more bits (as inserting its id would), so consecutive filters differ in a few
 * words, as in a real channel. Calls must come in increasing index order.
 */
class BloomRun {
  private readonly bits: Uint8Array;
  private next = 0;
  constructor(readonly bytes: number) {
    this.bits = new Uint8Array(bytes).map((_, i) => (i * 131) & 0xff);
  }
  at(index: number): Uint8Array {
    while (this.next <= index) {
      let x = (this.next + 1) * 2_654_435_761;
      for (let k = 0; k < 10; k++) {
        x = (Math.imul(x ^ (x >>> 15), 2_246_822_519) + k) >>> 0;
        const bit = x % (this.bytes * 8);
        this.bits[bit >> 3] = (this.bits[bit >> 3] as number) | (1 << (bit & 7));
      }
      this.next += 1;
    }
    return this.bits.slice();
  }
}

const idOf = (index: number) => index.toString(16).padStart(64, "0");

function message(channelId: string, index: number, bloom: Uint8Array): SdsMessage {
  return {
    senderId: "alice",
    messageId: idOf(index),
    channelId,
    lamportTimestamp: BigInt(1_700_000_000_000 + index),
    causalHistory: [1, 2].map((back) => ({ messageId: idOf(Math.max(0, index - back)) })),
    bloomFilter: bloom,
    content: new TextEncoder().encode(`line ${index} of the benchmark`),
    repairRequest: [],
  };
}

/**
 * One send as the engine commits it: the published (spec) bytes carry the bloom filter, the
 * stored message does not; the outgoing entry and the history append share one message object.
 */
function sendDelta(channelId: string, index: number, bloom: Uint8Array, evictUpTo?: number): ChannelDelta {
  const full = message(channelId, index, bloom);
  const m: SdsMessage = { ...full, bloomFilter: undefined };
  const entry: UnacknowledgedMessage = { message: m, sendTimeMs: 1_700_000_000_000 + index, resendAttempts: 0, wire: encodeMessage(full, { dialect: "spec" }) };
  return {
    channelId,
    lamportTimestamp: BigInt(1_700_000_000_000 + index),
    outgoing: { upsert: [entry], remove: evictUpTo === undefined ? [] : [idOf(evictUpTo)] },
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
  const run = new BloomRun(BLOOM_BYTES);
  const payloads = Array.from({ length: OPS }, (_, i) => encodeMessage(message("raw", i, run.at(i)), { dialect: "nim" }));
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
  const run = new BloomRun(BLOOM_BYTES);
  for (let from = 0; from < backlog; from += BATCH) {
    const result = store.commitSync(Array.from({ length: Math.min(BATCH, backlog - from) }, (_, i) => sendDelta(channelId, from + i, run.at(from + i))));
    if (!result.ok) throw result.error;
  }
  store.db.pragma("wal_checkpoint(TRUNCATE)");
  store.db.pragma("wal_autocheckpoint = 0");
  const deltas = Array.from({ length: OPS }, (_, i) => sendDelta(channelId, backlog + i, run.at(backlog + i), backlog > 0 ? i : undefined));
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

/** Group commit result: wall rate, CPU time and WAL bytes per message (the last two hardly depend on machine load). */
interface BulkResult {
  messagesPerSecond: number;
  cpuMicrosPerMessage: number;
  walBytesPerMessage: number;
}

/**
 * Group commit: BULK sends, BATCH per transaction (building the deltas is not timed); each send
 * acknowledges the send `ackLag` earlier. A lag of BATCH (the headline) puts every
 * acknowledgement in a later transaction; with the secondary lag (100) most acknowledgements
 * land in the transaction of the send they acknowledge, whose outgoing row the store then
 * never writes.
 */
function bulk(bloomBytes: number, ackLag: number): BulkResult {
  const name = `bulk-${bloomBytes}-${ackLag}.db`;
  const store = openStore(name);
  store.db.pragma("wal_autocheckpoint = 0");
  const run = new BloomRun(bloomBytes);
  let elapsedMs = 0;
  let cpuMicros = 0;
  for (let from = 0; from < BULK; from += BATCH) {
    const deltas = Array.from({ length: Math.min(BATCH, BULK - from) }, (_, i) => sendDelta("bulk", from + i, run.at(from + i), from + i >= ackLag ? from + i - ackLag : undefined));
    const cpu = process.cpuUsage();
    const start = performance.now();
    const result = store.commitSync(deltas);
    elapsedMs += performance.now() - start;
    const used = process.cpuUsage(cpu);
    cpuMicros += used.user + used.system;
    if (!result.ok) throw result.error;
  }
  const walBytesPerMessage = walBytes(path.join(dir, name)) / BULK;
  store.closeSync();
  return { messagesPerSecond: BULK / (elapsedMs / 1000), cpuMicrosPerMessage: cpuMicros / BULK, walBytesPerMessage };
}

/**
 * The SQLite floor of a group-committed send: raw better-sqlite3 writing the rows a send
 * cannot do without (its `sds.log` row, that row's checksum row, its outgoing row) and
 * deleting the outgoing row of the message it acknowledges, in 64-row statements, BATCH
 * messages per transaction, same mode, payloads the size of ours. No encoding, no checksums,
 * no filter diffs: what is left when all of our own work costs nothing.
 */
function bulkRawFloor(): { messagesPerSecond: number } {
  const file = path.join(dir, "bulk-floor.db");
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma(`synchronous = ${SYNC}`);
  db.pragma("wal_autocheckpoint = 0");
  db.exec("CREATE TABLE kv (category BLOB NOT NULL, key BLOB NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (category, key)) WITHOUT ROWID");
  const rowsPerStatement = 64;
  const insert = db.prepare(`INSERT OR REPLACE INTO kv (category, key, payload) VALUES ${Array.from({ length: rowsPerStatement }, () => "(?, ?, ?)").join(", ")}`);
  const remove = db.prepare(`DELETE FROM kv WHERE category = ? AND key IN (${Array.from({ length: rowsPerStatement }, () => "?").join(", ")})`);
  const [log, sum, out] = ["sds.log", "sdstk.sum", "sdstk.out"].map((name) => Buffer.from(name)) as [Buffer, Buffer, Buffer];
  const key = (index: number) => Buffer.concat([Buffer.from([0, 4]), Buffer.from("bulk"), Buffer.from([0, 64]), Buffer.from(idOf(index))]);
  const logPayload = Buffer.alloc(encodeMessage({ ...message("bulk", 0, new Uint8Array()), bloomFilter: undefined }, { dialect: "nim" }).length, 1);
  const sumPayload = Buffer.alloc(9, 2);
  const outPayload = Buffer.alloc(300, 3);
  let elapsedMs = 0;
  for (let from = 0; from < BULK; from += BATCH) {
    const count = Math.min(BATCH, BULK - from);
    const start = performance.now();
    db.transaction(() => {
      const rows: Buffer[] = [];
      const acknowledged: Buffer[] = [];
      for (let index = from; index < from + count; index++) {
        const rowKey = key(index);
        rows.push(log, rowKey, logPayload, sum, Buffer.concat([log, rowKey]), sumPayload, out, rowKey, outPayload);
        if (index >= LATER_ACK_LAG) acknowledged.push(key(index - LATER_ACK_LAG));
      }
      for (let at = 0; at + rowsPerStatement * 3 <= rows.length; at += rowsPerStatement * 3) insert.run(...rows.slice(at, at + rowsPerStatement * 3));
      for (let at = 0; at + rowsPerStatement <= acknowledged.length; at += rowsPerStatement) remove.run(out, ...acknowledged.slice(at, at + rowsPerStatement));
    }).immediate();
    elapsedMs += performance.now() - start;
  }
  db.close();
  return { messagesPerSecond: BULK / (elapsedMs / 1000) };
}

try {
  const rawResult = rawPerOp();
  const raw = rawResult.msPerOp;
  const backlogs = [0, 100, 1000].map((backlog) => ({ backlog, ...oursPerOp(backlog) }));
  const base = backlogs[0] as { msPerOp: number; walBytesPerOp: number };
  const bulkRate = bulk(BLOOM_BYTES, LATER_ACK_LAG);
  const bulkSmallRate = bulk(SMALL_BLOOM_BYTES, LATER_ACK_LAG);
  const bulkSameTransactionAcks = bulk(BLOOM_BYTES, ACK_LAG);
  const floor = bulkRawFloor();
  printTable(`per-operation durable commit (synchronous = ${SYNC}, bloom ${BLOOM_BYTES} B)`, [
    { subject: "raw better-sqlite3, 1 row / transaction", "ms/op": raw, "ops/s": 1000 / raw, ratio: 1, "WAL B/op": rawResult.walBytesPerOp },
    ...backlogs.map((b) => ({ subject: `SqlitePersistence.commit, backlog ${b.backlog}`, "ms/op": b.msPerOp, "ops/s": 1000 / b.msPerOp, ratio: b.msPerOp / raw, "WAL B/op": b.walBytesPerOp })),
  ]);
  printTable("cost against backlog (target ≤ 2× of backlog 0)", backlogs.map((b) => ({ backlog: b.backlog, "ms/op": b.msPerOp, "time ×": b.msPerOp / base.msPerOp, "WAL B/op": b.walBytesPerOp, "bytes ×": b.walBytesPerOp / base.walBytesPerOp })));
  printTable(`group commit, ${BATCH} operations per transaction (target ≥ 20,000 msgs/s)`, [
    { bloom: `${BLOOM_BYTES} B, acks in a later transaction`, messages: BULK, "msgs/s": bulkRate.messagesPerSecond, "CPU µs/msg": bulkRate.cpuMicrosPerMessage, "WAL B/msg": bulkRate.walBytesPerMessage },
    { bloom: `${SMALL_BLOOM_BYTES} B, acks in a later transaction`, messages: BULK, "msgs/s": bulkSmallRate.messagesPerSecond, "CPU µs/msg": bulkSmallRate.cpuMicrosPerMessage, "WAL B/msg": bulkSmallRate.walBytesPerMessage },
    { bloom: `${BLOOM_BYTES} B, acks ${ACK_LAG} behind (mostly same transaction; not reachable)`, messages: BULK, "msgs/s": bulkSameTransactionAcks.messagesPerSecond, "CPU µs/msg": bulkSameTransactionAcks.cpuMicrosPerMessage, "WAL B/msg": bulkSameTransactionAcks.walBytesPerMessage },
    { bloom: "raw SQLite floor (3 rows + 1 delete per message)", messages: BULK, "msgs/s": floor.messagesPerSecond, "CPU µs/msg": "—", "WAL B/msg": "—" },
  ]);
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
    bulkMessagesPerSecond: bulkRate.messagesPerSecond,
    bulkCpuMicrosPerMessage: bulkRate.cpuMicrosPerMessage,
    bulkWalBytesPerMessage: bulkRate.walBytesPerMessage,
    bulkSmallBloomMessagesPerSecond: bulkSmallRate.messagesPerSecond,
    bulkSmallBloomCpuMicrosPerMessage: bulkSmallRate.cpuMicrosPerMessage,
    bulkSmallBloomWalBytesPerMessage: bulkSmallRate.walBytesPerMessage,
    bulkSameTransactionAcksMessagesPerSecond: bulkSameTransactionAcks.messagesPerSecond,
    bulkSameTransactionAcksCpuMicrosPerMessage: bulkSameTransactionAcks.cpuMicrosPerMessage,
    bulkSameTransactionAcksWalBytesPerMessage: bulkSameTransactionAcks.walBytesPerMessage,
    bulkRawFloorMessagesPerSecond: floor.messagesPerSecond,
    bulkRatioToRawFloor: bulkRate.messagesPerSecond / floor.messagesPerSecond,
  });
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
