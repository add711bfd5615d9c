/**
 * SQLite persistence of the relay store (`sds relay --store-file`): one small table in its own
 * file, written through on every accepted publish (insert plus evictions in one transaction),
 * loaded once at start so a restarted relay still answers store queries. WAL with
 * `synchronous = NORMAL`: a crash of the relay process loses nothing committed; a power loss may
 * lose the last transactions, which clients recover by re-publishing unacknowledged envelopes.
 */
import Database from "better-sqlite3";
import { StoreError } from "../errors.js";
import { toHex } from "./envelope.js";
import type { RelayStorePersistence, StoredMessage } from "./relay-store.js";

/** Schema version in `PRAGMA user_version`; other versions are refused. */
export const RELAY_STORE_SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS relay_messages (
  topic TEXT NOT NULL,
  stored_at_ns INTEGER NOT NULL,
  hash BLOB NOT NULL,
  envelope BLOB NOT NULL,
  PRIMARY KEY (topic, stored_at_ns)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS relay_messages_hash ON relay_messages (topic, hash);
`;

interface Row {
  topic: string;
  stored_at_ns: bigint;
  hash: Buffer;
  envelope: Buffer;
}

function storeError(error: unknown, action: string, path: string): StoreError {
  const code = (error as { code?: string }).code ?? "";
  const mapped = code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED") ? "E_STORE_BUSY" : code.startsWith("SQLITE_FULL") ? "E_STORE_FULL" : code.startsWith("SQLITE_READONLY") ? "E_STORE_READONLY" : code === "SQLITE_NOTADB" || code.startsWith("SQLITE_CORRUPT") ? "E_STORE_CORRUPT" : "E_STORE_IO";
  return new StoreError(mapped, `relay store ${path}: ${action} failed: ${(error as Error).message}`, { path, sqliteCode: code }, { cause: error });
}

/**
 * Opens (creating if needed) a relay store file.
 * @throws StoreError `E_STORE_VERSION` for another schema version, `E_STORE_CORRUPT` for a
 * file that is not a database, `E_STORE_IO`/`E_STORE_READONLY` otherwise.
 */
export function openSqliteRelayStore(path: string): RelayStorePersistence {
  let db: Database.Database;
  try {
    db = new Database(path);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("busy_timeout = 2000");
    const version = db.pragma("user_version", { simple: true }) as number;
    if (version !== 0 && version !== RELAY_STORE_SCHEMA_VERSION) {
      db.close();
      throw new StoreError("E_STORE_VERSION", `relay store ${path} has schema version ${version}, this relay reads ${RELAY_STORE_SCHEMA_VERSION}`, { path, version });
    }
    db.exec(SCHEMA);
    db.pragma(`user_version = ${RELAY_STORE_SCHEMA_VERSION}`);
  } catch (error) {
    if (error instanceof StoreError) throw error;
    throw storeError(error, "open", path);
  }
  const insert = db.prepare("INSERT OR IGNORE INTO relay_messages (topic, stored_at_ns, hash, envelope) VALUES (?, ?, ?, ?)");
  const remove = db.prepare("DELETE FROM relay_messages WHERE topic = ? AND stored_at_ns = ?");
  const selectAll = db.prepare("SELECT topic, stored_at_ns, hash, envelope FROM relay_messages ORDER BY stored_at_ns").safeIntegers(true);
  const applyChange = db.transaction((message: StoredMessage, evicted: readonly StoredMessage[]) => {
    for (const old of evicted) remove.run(old.topic, old.storedAtNs);
    insert.run(message.topic, message.storedAtNs, Buffer.from(message.hash), Buffer.from(message.envelope));
  });
  return {
    loadAll(): StoredMessage[] {
      try {
        return (selectAll.all() as Row[]).map((row) => {
          const hash = new Uint8Array(row.hash);
          return { topic: row.topic, storedAtNs: row.stored_at_ns, hash, hashHex: toHex(hash), envelope: new Uint8Array(row.envelope) };
        });
      } catch (error) {
        throw storeError(error, "load", path);
      }
    },
    apply(message: StoredMessage, evicted: readonly StoredMessage[]): void {
      try {
        applyChange(message, evicted);
      } catch (error) {
        throw storeError(error, "write", path);
      }
    },
    close(): void {
      if (db.open) db.close();
    },
  };
}
