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

/** The parts of the SQLite store's row layer a torn commit patches (private in src; reached by shape). */
interface RowLayer {
  statement(sql: string): { run(...args: unknown[]): unknown };
  endBatch(apply: boolean): void;
}

/** Error a torn commit throws inside the transaction (the "process death"). */
class PowerCut extends Error {}

/**
 * S9: runs `commit` on a SQLite store while a crash is injected inside its transaction, after
 * `statementsBeforeCrash` write statements have run (or, when the commit writes fewer, after all
 * of them but before COMMIT). The transaction is rolled back, as a process death mid-transaction
 * would leave it; returns how many write statements ran. Returns undefined when `persistence`
 * is not the SQLite store (a memory store applies a delta in one step: nothing to tear).
 */
export async function tornCommit(persistence: Persistence, commit: () => Promise<unknown>, statementsBeforeCrash: number): Promise<number | undefined> {
  const rows = (persistence as unknown as { kv?: RowLayer }).kv;
  if (rows === undefined || typeof rows.statement !== "function" || typeof rows.endBatch !== "function") return undefined;
  const layer = rows as RowLayer & { statement: RowLayer["statement"]; endBatch: RowLayer["endBatch"] };
  const originalStatement = layer.statement;
  const originalEndBatch = layer.endBatch;
  let ran = 0;
  layer.statement = function patchedStatement(this: RowLayer, sql: string) {
    const prepared = originalStatement.call(this, sql);
    if (!/^\s*(INSERT|DELETE|UPDATE|REPLACE)/i.test(sql)) return prepared;
    return {
      run: (...args: unknown[]) => {
        const result = prepared.run(...args);
        ran += 1;
        if (ran >= statementsBeforeCrash) throw new PowerCut("simulated crash inside the transaction");
        return result;
      },
    };
  };
  layer.endBatch = function patchedEndBatch(this: RowLayer, apply: boolean) {
    originalEndBatch.call(this, apply);
    if (apply) throw new PowerCut("simulated crash before COMMIT");
  };
  try {
    await commit();
  } finally {
    layer.statement = originalStatement;
    layer.endBatch = originalEndBatch;
  }
  return ran;
}

/** Canonical text of a stored channel (bigints and bytes spelled out), for S9's equality. */
export function canonicalChannel(data: unknown): string {
  return JSON.stringify(data ?? null, (_key, value: unknown) => {
    if (typeof value === "bigint") return `${value}n`;
    if (value instanceof Uint8Array) return Buffer.from(value).toString("hex");
    return value;
  });
}
