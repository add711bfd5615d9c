/**
 * Opens the real SQLite channel store on a file for a simulated peer (kept apart so memory-only
 * runs never load better-sqlite3). `synchronous = OFF`: a simulated crash never loses the OS
 * page cache, so fsync buys nothing here and would only slow the campaign; power loss is the
 * kill-9 / LazyFS harness's job (reliability.md §5.5 P2, P11).
 */
import type { Persistence } from "../../src/core/store/contract.js";
import { openStore } from "../../src/core/store/sqlite.js";

/** Opens (or reopens) the SQLite store at `path`. */
export async function openSqliteStore(path: string): Promise<Persistence> {
  const opened = openStore(path, { synchronous: "OFF" });
  if (!opened.ok) throw opened.error;
  return opened.value;
}
