/**
 * The single-writer lock of a channel database. It is a tiny SQLite file beside the
 * database (`<db>.lock`) held in `locking_mode = EXCLUSIVE`: SQLite takes a POSIX lock on it
 * that the kernel drops when the process dies, so a `kill -9` leaves no stale lock and no
 * pid guessing is needed. A second process (or a second store in the same process) gets
 * `E_STORE_LOCKED`. Who holds it is told by the `owner` setting the holder writes into the
 * database itself, readable by everyone through WAL.
 */
import Database from "better-sqlite3";
import { StoreError } from "../errors.js";
import { sqliteCode, toStoreError } from "./sqlite-db.js";

/** A held writer lock; `release()` is idempotent. */
export interface WriterLock {
  readonly path: string;
  release(): void;
}

/** The lock file of database `path`. */
export function lockPathFor(path: string): string {
  return `${path}.lock`;
}

/**
 * Takes the writer lock of database `path` without waiting. Throws `E_STORE_LOCKED` when
 * another connection holds it (`describeOwner` is called to name the holder in the message),
 * or another typed store error when the lock file cannot be created.
 */
export function acquireWriterLock(path: string, describeOwner: () => string | undefined): WriterLock {
  const lockPath = lockPathFor(path);
  let db: Database.Database | undefined;
  try {
    db = new Database(lockPath, { timeout: 0 });
    db.pragma("locking_mode = EXCLUSIVE");
    db.pragma("journal_mode = MEMORY");
    db.exec("BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS sds_writer_lock (id INTEGER PRIMARY KEY); COMMIT;");
  } catch (error) {
    try {
      db?.close();
    } catch {
      // the lock error below is what matters
    }
    const code = sqliteCode(error) ?? "";
    if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
      const owner = describeOwner();
      throw new StoreError(
        "E_STORE_LOCKED",
        `${path} is in use by another sds process${owner ? ` (${owner})` : ""}; only one writer per database. Stop it, or use another database (e.g. --as another name)`,
        { path, lockPath, owner },
      );
    }
    throw toStoreError(error, "taking the writer lock", lockPath);
  }
  const held = db;
  let released = false;
  return {
    path: lockPath,
    release(): void {
      if (released) return;
      released = true;
      held.close();
    },
  };
}
