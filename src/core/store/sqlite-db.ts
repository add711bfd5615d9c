/**
 * The SQLite layer under the channel store: opening a file with the logos-delivery
 * persistency settings (table `kv` WITHOUT ROWID, WAL, `user_version = 1`), our durability
 * setting (`synchronous = FULL` unless told otherwise), mapping SQLite result codes to typed
 * store errors, and a small `Kv` wrapper with cached prepared statements. better-sqlite3 is
 * synchronous, so a transaction here can never span an `await`.
 */
import Database from "better-sqlite3";
import { StoreError } from "../errors.js";
import { categoryBlob } from "./rows.js";
import { type KeyRange, prefixRange } from "./keys.js";

/** The only `PRAGMA user_version` this toolkit (and logos-delivery) reads and writes. */
export const STORE_USER_VERSION = 1;

/** SQLite `synchronous` levels a store may run with. */
export type SynchronousMode = "FULL" | "NORMAL" | "OFF";

/** Options for {@link openDatabase}. */
export interface OpenDatabaseOptions {
  /** Open without writing anything (no schema creation, no WAL switch). */
  readonly?: boolean;
  /** Durability of commits: FULL (default) syncs the WAL on every commit. */
  synchronous?: SynchronousMode;
  /** How long a statement waits for another connection's lock, in ms (default 5,000). */
  busyTimeoutMs?: number;
  /** Fail with E_STORE_NOT_FOUND instead of creating a missing file. */
  fileMustExist?: boolean;
  /** Do not refuse another `user_version` (inspection reports it as a failed check instead). */
  skipVersionCheck?: boolean;
}

/** The `kv` table, exactly as logos-delivery creates it. */
export const KV_SCHEMA_SQL =
  "CREATE TABLE IF NOT EXISTS kv (category BLOB NOT NULL, key BLOB NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (category, key)) WITHOUT ROWID;";

/** The SQLite result code of a thrown value, if it is a SqliteError. */
export function sqliteCode(error: unknown): string | undefined {
  if (typeof error === "object" && error !== null && "code" in error && typeof (error as { code: unknown }).code === "string") {
    const code = (error as { code: string }).code;
    return code.startsWith("SQLITE_") ? code : undefined;
  }
  return undefined;
}

/**
 * Maps anything thrown by better-sqlite3 (or the file system under it) to a typed
 * {@link StoreError}; `doing` says what was being done, for the message.
 */
export function toStoreError(error: unknown, doing: string, path: string): StoreError {
  if (error instanceof StoreError) return error;
  const code = sqliteCode(error) ?? (typeof error === "object" && error !== null && "code" in error ? String((error as { code: unknown }).code) : "");
  const message = error instanceof Error ? error.message : String(error);
  const details = { path, sqliteCode: code || undefined };
  const cause = { cause: error };
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) return new StoreError("E_STORE_BUSY", `${doing}: the database ${path} is busy (${message}); another connection holds a lock`, details, cause);
  if (code.startsWith("SQLITE_FULL")) return new StoreError("E_STORE_FULL", `${doing}: the database or disk is full (${message})`, details, cause);
  if (code.startsWith("SQLITE_READONLY") || code === "EACCES" || code === "EROFS" || code === "SQLITE_CANTOPEN_ISDIR") {
    return new StoreError("E_STORE_READONLY", `${doing}: ${path} is read-only (${message})`, details, cause);
  }
  if (code.startsWith("SQLITE_CORRUPT") || code.startsWith("SQLITE_NOTADB")) return new StoreError("E_STORE_CORRUPT", `${doing}: ${path} is corrupt or not a database (${message})`, details, cause);
  if (code.startsWith("SQLITE_CANTOPEN") || code === "ENOENT") return new StoreError("E_STORE_NOT_FOUND", `${doing}: cannot open ${path} (${message})`, details, cause);
  return new StoreError("E_STORE_IO", `${doing}: ${message}`, details, cause);
}

/**
 * Checks `user_version`: 0 on a file with no `kv` table is a fresh database (stamped 1 when
 * writable), 1 is accepted, anything else is refused with E_STORE_VERSION.
 */
function checkVersion(db: Database.Database, path: string, readonly: boolean): void {
  const version = db.pragma("user_version", { simple: true }) as number;
  const hasKv = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'kv'").get() !== undefined;
  if (version === STORE_USER_VERSION) {
    if (!hasKv && !readonly) db.exec(KV_SCHEMA_SQL);
    return;
  }
  if (version === 0) {
    const tables = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get() as { n: number };
    if (tables.n > (hasKv ? 1 : 0)) {
      throw new StoreError("E_STORE_VERSION", `${path} is an SQLite database of another application (user_version 0 with other tables); refusing to use it`, { path, userVersion: 0 });
    }
    if (readonly) return;
    db.exec(KV_SCHEMA_SQL);
    db.pragma(`user_version = ${STORE_USER_VERSION}`);
    return;
  }
  throw new StoreError("E_STORE_VERSION", `incompatible persistency user_version: got ${version}, expected ${STORE_USER_VERSION} (${path} was written by another version; no migration exists)`, {
    path,
    userVersion: version,
    expected: STORE_USER_VERSION,
  });
}

/**
 * Opens (or creates) a channel database with the persistency settings. Throws
 * {@link StoreError} only; callers turn it into a Result.
 */
export function openDatabase(path: string, options: OpenDatabaseOptions = {}): Database.Database {
  const readonly = options.readonly === true;
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly, fileMustExist: readonly || options.fileMustExist === true, timeout: options.busyTimeoutMs ?? 5000 });
    if (!readonly) {
      const mode = String(db.pragma("journal_mode = WAL", { simple: true })).toLowerCase();
      if (mode !== "wal" && mode !== "memory") throw new StoreError("E_STORE_IO", `${path}: journal_mode is ${mode}, WAL could not be enabled`, { path, journalMode: mode });
      db.pragma(`synchronous = ${options.synchronous ?? "FULL"}`);
      db.pragma("temp_store = MEMORY");
      db.pragma("foreign_keys = OFF");
    }
    if (options.skipVersionCheck !== true) checkVersion(db, path, readonly);
    if (readonly) db.prepare("SELECT count(*) FROM sqlite_master").get();
    return db;
  } catch (error) {
    try {
      db?.close();
    } catch {
      // already failing; the first error is the one to report
    }
    throw toStoreError(error, readonly ? "opening the database read-only" : "opening the database", path);
  }
}

/** One row of the `kv` table. */
export interface KvRow {
  key: Uint8Array;
  payload: Uint8Array;
}

type Statement = Database.Statement<unknown[], unknown>;

/** Rows per multi-row `INSERT OR REPLACE` of a batch (3 parameters each, far below SQLite's limit). */
export const PUT_ROWS_PER_STATEMENT = 64;

const multiPutSqls: string[] = [];
const multiDeleteSqls: string[] = [];
const headsSqls: string[] = [];

function multiPutSql(rows: number): string {
  return (multiPutSqls[rows] ??= `INSERT OR REPLACE INTO kv (category, key, payload) VALUES ${Array.from({ length: rows }, () => "(?, ?, ?)").join(", ")}`);
}

function multiDeleteSql(rows: number): string {
  return (multiDeleteSqls[rows] ??= `DELETE FROM kv WHERE category = ? AND key IN (${Array.from({ length: rows }, () => "?").join(", ")})`);
}

/** A plain Uint8Array view of a Buffer (so `.slice()` copies and values compare as Uint8Array). */
function plain(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A write deferred by {@link Kv.beginBatch}: a put (with `payload`) or a delete. */
interface PendingWrite {
  put: boolean;
  /** The cached category blob ({@link categoryBlob}): one object per category. */
  category: Uint8Array;
  key: Uint8Array;
  payload: Uint8Array | undefined;
}

/** A row key as a map key: one character per byte (latin1), so equal keys and only they give equal strings; cheaper than hex. */
export function rowKeyString(rowKey: Uint8Array): string {
  return Buffer.from(rowKey.buffer, rowKey.byteOffset, rowKey.byteLength).toString("latin1");
}

function plainRows(rows: KvRow[]): KvRow[] {
  for (const row of rows) {
    row.key = plain(row.key);
    row.payload = plain(row.payload);
  }
  return rows;
}

/**
 * The key-value operations of logos-delivery's `backend_sqlite.nim` over one connection,
 * with every statement prepared once. Methods throw SqliteError; the caller maps it.
 */
export class Kv {
  private readonly statements = new Map<string, Statement>();

  constructor(readonly db: Database.Database) {}

  private statement(sql: string): Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** Writes deferred by {@link beginBatch}, in order: puts (category, key, payload) and deletes (category, key). */
  private pending: PendingWrite[] = [];
  private batching = false;

  /**
   * Defers puts and single-row deletes until the next read or {@link endBatch}, then runs them
   * as multi-row statements ({@link PUT_ROWS_PER_STATEMENT} rows each): puts become
   * `INSERT OR REPLACE … VALUES (…), (…)`, deletes of one category `DELETE … WHERE key IN (…)`.
   * Writes to different rows commute, so puts and deletes are gathered across each other (a
   * send that also acknowledges an older one no longer cuts the batch in two); of a row written
   * more than once only the last write runs. Use inside a transaction only.
   */
  beginBatch(): void {
    this.batching = true;
  }

  /** Writes (`apply`) or drops the deferred writes and stops deferring. */
  endBatch(apply: boolean): void {
    try {
      if (apply) this.flush();
    } finally {
      this.pending = [];
      this.batching = false;
    }
  }

  /**
   * Runs the deferred writes. Only a row's last write decides what the transaction leaves
   * (a put replaces the whole row, nothing reads in between: a read flushes first), so an
   * earlier write of a row written again is skipped: a send acknowledged in the same group
   * commit never writes its outgoing row at all. The rest touch distinct rows and commute:
   * the deletes run first, then the puts.
   */
  private flush(): void {
    const pending = this.pending;
    if (pending.length === 0) return;
    this.pending = [];
    // only a category with both puts and deletes needs per-row tracking: elsewhere a repeated
    // put is settled by running the puts in order, a repeated delete is harmless (a bulk send
    // puts history and checksum rows, and puts and deletes outgoing rows)
    const kinds = new Map<Uint8Array, number>(); // bit 1: a put, bit 2: a delete
    for (const write of pending) kinds.set(write.category, (kinds.get(write.category) ?? 0) | (write.put ? 1 : 2));
    // per category (the cached category blob), the index of each row key's last write
    const lastWrite = new Map<Uint8Array, Map<string, number>>();
    let superseded: Uint8Array | undefined;
    for (let at = 0; at < pending.length; at++) {
      const write = pending[at] as PendingWrite;
      if (kinds.get(write.category) !== 3) continue;
      let rows = lastWrite.get(write.category);
      if (rows === undefined) {
        rows = new Map();
        lastWrite.set(write.category, rows);
      }
      const id = rowKeyString(write.key);
      const earlier = rows.get(id);
      if (earlier !== undefined) (superseded ??= new Uint8Array(pending.length))[earlier] = 1;
      rows.set(id, at);
    }
    this.runWrites(pending, superseded);
  }

  private runWrites(pending: readonly PendingWrite[], superseded: Uint8Array | undefined): void {
    const deletes = new Map<Uint8Array, Uint8Array[]>();
    const puts: Uint8Array[] = [];
    for (let at = 0; at < pending.length; at++) {
      if (superseded !== undefined && superseded[at] === 1) continue;
      const write = pending[at] as PendingWrite;
      if (write.payload !== undefined) puts.push(write.category, write.key, write.payload);
      else {
        const keys = deletes.get(write.category);
        if (keys === undefined) deletes.set(write.category, [write.key]);
        else keys.push(write.key);
      }
    }
    for (const [category, keys] of deletes) {
      for (let at = 0; at < keys.length; at += PUT_ROWS_PER_STATEMENT) {
        const chunk = keys.length <= PUT_ROWS_PER_STATEMENT ? keys : keys.slice(at, at + PUT_ROWS_PER_STATEMENT);
        this.statement(multiDeleteSql(chunk.length)).run(category, ...chunk);
      }
    }
    const valuesMax = PUT_ROWS_PER_STATEMENT * 3;
    for (let at = 0; at < puts.length; at += valuesMax) {
      const chunk = puts.length <= valuesMax ? puts : puts.slice(at, at + valuesMax);
      this.statement(multiPutSql(chunk.length / 3)).run(...chunk);
    }
  }

  /** `INSERT OR REPLACE` one row (deferred while batching). */
  put(category: string, rowKey: Uint8Array, payload: Uint8Array): void {
    if (this.batching) {
      this.pending.push({ put: true, category: categoryBlob(category), key: rowKey, payload });
      return;
    }
    this.statement("INSERT OR REPLACE INTO kv (category, key, payload) VALUES (?, ?, ?)").run(categoryBlob(category), rowKey, payload);
  }

  /**
   * The first `bytes` bytes of the payloads of those of `rowKeys` that exist, by {@link rowKeyString}:
   * one `IN (…)` query per {@link PUT_ROWS_PER_STATEMENT} keys instead of one read per key.
   */
  heads(category: string, rowKeys: readonly Uint8Array[], bytes: number): Map<string, Uint8Array> {
    this.flush();
    const out = new Map<string, Uint8Array>();
    for (let at = 0; at < rowKeys.length; at += PUT_ROWS_PER_STATEMENT) {
      const chunk = rowKeys.slice(at, at + PUT_ROWS_PER_STATEMENT);
      const sql = (headsSqls[chunk.length] ??= `SELECT key, substr(payload, 1, ?) AS head FROM kv WHERE category = ? AND key IN (${chunk.map(() => "?").join(", ")})`);
      for (const row of this.statement(sql).all(bytes, categoryBlob(category), ...chunk) as Array<{ key: Uint8Array; head: Uint8Array }>) {
        out.set(rowKeyString(row.key), plain(row.head));
      }
    }
    return out;
  }

  /** Deletes one row; true when it existed (always true while batching: the delete is deferred). */
  delete(category: string, rowKey: Uint8Array): boolean {
    if (this.batching) {
      this.pending.push({ put: false, category: categoryBlob(category), key: rowKey, payload: undefined });
      return true;
    }
    return this.statement("DELETE FROM kv WHERE category = ? AND key = ?").run(categoryBlob(category), rowKey).changes > 0;
  }

  /** Deletes every row whose key starts with `prefix`; returns how many. */
  deletePrefix(category: string, prefix: Uint8Array): number {
    this.flush();
    const range = prefixRange(prefix);
    if (range.stop === undefined) return this.statement("DELETE FROM kv WHERE category = ? AND key >= ?").run(categoryBlob(category), range.start).changes;
    return this.statement("DELETE FROM kv WHERE category = ? AND key >= ? AND key < ?").run(categoryBlob(category), range.start, range.stop).changes;
  }

  /** The payload of one row, or undefined. */
  get(category: string, rowKey: Uint8Array): Uint8Array | undefined {
    this.flush();
    const row = this.statement("SELECT payload FROM kv WHERE category = ? AND key = ? LIMIT 1").get(categoryBlob(category), rowKey) as { payload: Uint8Array } | undefined;
    return row === undefined ? undefined : plain(row.payload);
  }

  /** The first `bytes` bytes of one row's payload (used to read a frame header cheaply). */
  getHead(category: string, rowKey: Uint8Array, bytes: number): Uint8Array | undefined {
    this.flush();
    const row = this.statement("SELECT substr(payload, 1, ?) AS head FROM kv WHERE category = ? AND key = ? LIMIT 1").get(bytes, categoryBlob(category), rowKey) as { head: Uint8Array } | undefined;
    return row === undefined ? undefined : plain(row.head);
  }

  /** Rows with keys in `range`, in key order. */
  scan(category: string, range: KeyRange): KvRow[] {
    this.flush();
    if (range.stop === undefined) return plainRows(this.statement("SELECT key, payload FROM kv WHERE category = ? AND key >= ? ORDER BY key ASC").all(categoryBlob(category), range.start) as KvRow[]);
    return plainRows(this.statement("SELECT key, payload FROM kv WHERE category = ? AND key >= ? AND key < ? ORDER BY key ASC").all(categoryBlob(category), range.start, range.stop) as KvRow[]);
  }

  /** Rows whose key starts with `prefix`, in key order. */
  scanPrefix(category: string, prefix: Uint8Array): KvRow[] {
    return this.scan(category, prefixRange(prefix));
  }

  /** Every row of a category, in key order. */
  scanCategory(category: string): KvRow[] {
    this.flush();
    return plainRows(this.statement("SELECT key, payload FROM kv WHERE category = ? ORDER BY key ASC").all(categoryBlob(category)) as KvRow[]);
  }
}
