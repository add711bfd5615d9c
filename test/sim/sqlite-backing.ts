/**
 * Opens the real SQLite channel store on a file for a simulated peer (kept apart so memory-only
 * runs never load better-sqlite3).
 */
import type { Persistence } from "../../src/core/store/contract.js";

/** Opens (or reopens) the SQLite store at `path`. */
export async function openSqliteStore(path: string): Promise<Persistence> {
  throw new Error(`SQLite store not available yet (${path})`);
}
