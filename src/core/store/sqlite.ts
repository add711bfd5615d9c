/**
 * The durable channel store on SQLite (better-sqlite3), in the logos-delivery persistency
 * layout. Each `commit` is one synchronous transaction holding one or many operations'
 * deltas; what it writes is proportional to what changed, never to the backlog: one row per
 * buffered entry, one per history message, a small `sds.meta` row with the lamport. Foreign
 * (nim) files whose `sds.meta` holds whole buffers are read as they are and moved to rows on
 * the first commit. One writer per file (see `lock.ts`). Methods return Results.
 */
import type Database from "better-sqlite3";
import { type Result, type SdsError, StoreError, err, isSdsError, ok } from "../errors.js";
import type { ChannelData, ChannelDelta, ChannelMeta, HistoryUpdate, Persistence } from "./contract.js";
import { readChannel } from "./channel-read.js";
import { type WriterLock, acquireWriterLock } from "./lock.js";
import { decodeStringKey, key, keyPart } from "./keys.js";
import { CATEGORY, FORMAT_SETTING, FORMAT_VERSION, OWNER_SETTING, channelKey, frameRow, unframeRow } from "./rows.js";
import { DEFAULT_SNAPSHOT_LIMITS, type SnapshotLimits } from "./snapshot.js";
import { Kv, type OpenDatabaseOptions, openDatabase, toStoreError } from "./sqlite-db.js";
import { type BloomStates, type CommitPlan, adoptForeignRows, planCommit, planHistory } from "./sqlite-write.js";

/** Options of {@link SqlitePersistence.open}. */
export interface SqliteStoreOptions extends Omit<OpenDatabaseOptions, "readonly"> {
  /** Take the single-writer lock (default true; a `:memory:` database never needs one). */
  lock?: boolean;
  /** Limits for decoding stored snapshots and messages. */
  limits?: SnapshotLimits;
}

/** Key of a global setting row in `sdstk.settings`. */
export function globalSettingKey(name: string): Uint8Array {
  return key(keyPart.string("global"), keyPart.string(name));
}

/** Key of a per-channel setting row in `sdstk.settings`. */
export function channelSettingKey(channelId: string, name: string): Uint8Array {
  return key(keyPart.string("channel"), keyPart.string(channelId), keyPart.string(name));
}

/** Reads the informational owner row of a database (who holds the writer lock), never throws. */
export function describeOwner(path: string): string | undefined {
  let db: Database.Database | undefined;
  try {
    db = openDatabase(path, { readonly: true, busyTimeoutMs: 200 });
    const payload = new Kv(db).get(CATEGORY.settings, globalSettingKey(OWNER_SETTING));
    if (payload === undefined) return undefined;
    const opened = unframeRow(CATEGORY.settings, globalSettingKey(OWNER_SETTING), payload);
    if (!opened.ok) return undefined;
    const owner = JSON.parse(Buffer.from(opened.body).toString("utf8")) as { pid?: number; startedAt?: string; host?: string };
    return `pid ${owner.pid ?? "?"} on ${owner.host ?? "?"}, since ${owner.startedAt ?? "?"}`;
  } catch {
    return undefined;
  } finally {
    try {
      db?.close();
    } catch {
      // informational only
    }
  }
}

/** Per-channel state cached by the single writer: next insertion sequence, and whether foreign buffers were moved to rows. */
export interface ChannelWriteState {
  nextSequence: bigint;
  /** Lamport stored in the channel's `sds.meta` row. */
  lamport: bigint;
}

/** An encoding failure keeps its own typed error (e.g. E_INPUT_INVALID); anything else is a store error. */
function encodingFailure(error: unknown, doing: string, path: string): SdsError {
  return isSdsError(error) ? error : toStoreError(error, doing, path);
}

/** A SQLite-backed {@link Persistence}. Create with {@link SqlitePersistence.open}. */
export class SqlitePersistence implements Persistence {
  /** Channels whose write state is known (cached after the first commit touching them). */
  private readonly channels = new Map<string, ChannelWriteState>();
  /** Bloom diff bases per channel (see bloom-rows.ts), mutated in place by transactions; dropped when one fails. */
  private readonly blooms: BloomStates = new Map();
  private closed = false;
  /** The batching transaction wrapper, made once (better-sqlite3 builds a new wrapper per `transaction` call). */
  private inTransaction: Database.Transaction<(body: () => CommitPlan | void) => CommitPlan | void> | undefined;
  /** Transactions committed since open (for tests that check one transaction per operation). */
  transactionsCommitted = 0;

  private constructor(
    readonly path: string,
    readonly db: Database.Database,
    private readonly kv: Kv,
    private readonly lock: WriterLock | undefined,
    private readonly limits: SnapshotLimits,
  ) {}

  /**
   * Opens or creates the database at `path` (`:memory:` for a private in-memory one), takes
   * the writer lock, checks the version and adopts a foreign file (adds checksum rows).
   */
  static open(path: string, options: SqliteStoreOptions = {}): Result<SqlitePersistence, StoreError> {
    const memory = path === ":memory:" || path === "";
    let lock: WriterLock | undefined;
    let db: Database.Database | undefined;
    try {
      if (!memory && options.lock !== false) lock = acquireWriterLock(path, () => describeOwner(path));
      db = openDatabase(path, options);
      const kv = new Kv(db);
      const store = new SqlitePersistence(path, db, kv, lock, options.limits ?? DEFAULT_SNAPSHOT_LIMITS);
      store.adopt();
      return ok(store);
    } catch (error) {
      try {
        db?.close();
      } catch {
        // reporting the first error
      }
      lock?.release();
      return err(toStoreError(error, "opening the channel store", path));
    }
  }

  /** Marks the file as ours, adding checksum rows for any foreign rows, and records the owner. */
  private adopt(): void {
    const formatKey = globalSettingKey(FORMAT_SETTING);
    const ownerKey = globalSettingKey(OWNER_SETTING);
    const owner = JSON.stringify({ pid: process.pid, host: process.env.HOSTNAME ?? "localhost", startedAt: new Date().toISOString() });
    this.db
      .transaction(() => {
        if (this.kv.get(CATEGORY.settings, formatKey) === undefined) {
          adoptForeignRows(this.kv);
          this.kv.put(CATEGORY.settings, formatKey, frameRow(CATEGORY.settings, formatKey, 0n, Uint8Array.of(FORMAT_VERSION)));
        }
        this.kv.put(CATEGORY.settings, ownerKey, frameRow(CATEGORY.settings, ownerKey, 0n, new TextEncoder().encode(owner)));
      })
      .immediate();
  }

  private guard(): StoreError | undefined {
    return this.closed ? new StoreError("E_STORE_IO", `the store ${this.path} is closed`, { path: this.path }) : undefined;
  }

  /** Runs `plan` in one IMMEDIATE transaction; on success updates the write-state cache. */
  private run(doing: string, plan: () => CommitPlan | void): Result<void, StoreError> {
    const closed = this.guard();
    if (closed) return err(closed);
    try {
      this.inTransaction ??= this.db.transaction((body: () => CommitPlan | void) => {
        this.kv.beginBatch();
        let planned: CommitPlan | void;
        try {
          planned = body();
          this.kv.endBatch(true);
        } finally {
          this.kv.endBatch(false);
        }
        return planned;
      });
      const result = this.inTransaction.immediate(plan);
      this.transactionsCommitted += 1;
      if (result) for (const [channelId, state] of result.channels) this.channels.set(channelId, state);
      return ok(undefined);
    } catch (error) {
      // The bloom states were changed in place by the failed transaction: rebuild them from disk.
      this.blooms.clear();
      // SQLite may already have rolled back (SQLITE_FULL, SQLITE_BUSY); better-sqlite3 rolls back the rest.
      if (this.db.inTransaction) {
        try {
          this.db.exec("ROLLBACK");
        } catch {
          // nothing left to roll back
        }
      }
      return err(toStoreError(error, doing, this.path));
    }
  }

  /** Applies all deltas in one transaction (synchronous form of {@link commit}). */
  commitSync(deltas: readonly ChannelDelta[]): Result<void> {
    if (deltas.length === 0) return ok(undefined);
    let encoded: ReturnType<typeof planCommit>;
    try {
      encoded = planCommit(deltas);
    } catch (error) {
      return err(encodingFailure(error, "encoding the commit", this.path));
    }
    return this.run("committing", () => encoded(this.kv, this.channels, this.blooms));
  }

  async commit(deltas: readonly ChannelDelta[]): Promise<Result<void>> {
    return this.commitSync(deltas);
  }

  async saveChannelMeta(channelId: string, meta: ChannelMeta): Promise<Result<void>> {
    const delta: ChannelDelta = {
      channelId,
      lamportTimestamp: meta.lamportTimestamp,
      outgoing: { upsert: meta.outgoingBuffer, remove: [] },
      incoming: { upsert: meta.incomingBuffer, remove: [] },
      outgoingRepair: { upsert: meta.outgoingRepairBuffer, remove: [] },
      incomingRepair: { upsert: meta.incomingRepairBuffer, remove: [] },
      history: { append: [], evict: [] },
      retrievalHints: [],
    };
    let encoded: ReturnType<typeof planCommit>;
    try {
      encoded = planCommit([delta], { replaceBuffers: true });
    } catch (error) {
      return err(encodingFailure(error, "encoding the channel meta", this.path));
    }
    return this.run("saving the channel meta", () => encoded(this.kv, this.channels, this.blooms));
  }

  async updateHistory(channelId: string, update: HistoryUpdate): Promise<Result<void>> {
    if (update.append.length === 0 && update.evict.length === 0) return ok(undefined);
    let encoded: ReturnType<typeof planHistory>;
    try {
      encoded = planHistory(channelId, update);
    } catch (error) {
      return err(encodingFailure(error, "encoding the history update", this.path));
    }
    return this.run("updating the history", () => encoded(this.kv, this.blooms));
  }

  async setRetrievalHint(channelId: string, messageId: string, hint: Uint8Array): Promise<Result<void>> {
    const delta: ChannelDelta = {
      channelId,
      lamportTimestamp: 0n,
      outgoing: { upsert: [], remove: [] },
      incoming: { upsert: [], remove: [] },
      outgoingRepair: { upsert: [], remove: [] },
      incomingRepair: { upsert: [], remove: [] },
      history: { append: [], evict: [] },
      retrievalHints: [{ messageId, hint }],
    };
    let encoded: ReturnType<typeof planCommit>;
    try {
      encoded = planCommit([delta], { keepLamport: true });
    } catch (error) {
      return err(encodingFailure(error, "encoding the retrieval hint", this.path));
    }
    return this.run("setting a retrieval hint", () => encoded(this.kv, this.channels, this.blooms));
  }

  /** Reads a channel; any row failing its checks fails the load with E_STORE_CORRUPT (never a partial snapshot). */
  loadChannelSync(channelId: string): Result<ChannelData | undefined, StoreError> {
    const closed = this.guard();
    if (closed) return err(closed);
    try {
      const { data, report } = readChannel(this.kv, channelId, { sumsExpected: true, stopAtFirstProblem: true, limits: this.limits });
      const first = report.problems[0];
      if (first !== undefined) {
        return err(new StoreError("E_STORE_CORRUPT", `channel ${channelId} in ${this.path}: ${first.reason} (run \`sds inspect-db ${this.path} --repair\`)`, { path: this.path, ...first }));
      }
      return ok(data);
    } catch (error) {
      return err(toStoreError(error, `loading channel ${channelId}`, this.path));
    }
  }

  async loadChannel(channelId: string): Promise<Result<ChannelData | undefined, StoreError>> {
    return this.loadChannelSync(channelId);
  }

  async dropChannel(channelId: string): Promise<Result<void, StoreError>> {
    const prefix = channelKey(channelId);
    const result = this.run(`dropping channel ${channelId}`, () => {
      for (const category of [CATEGORY.log, CATEGORY.outgoing, CATEGORY.incoming, CATEGORY.outgoingRepair, CATEGORY.incomingRepair, CATEGORY.hint, CATEGORY.bloom, CATEGORY.wireBloom, CATEGORY.bloomBase]) this.kv.deletePrefix(category, prefix);
      this.kv.delete(CATEGORY.meta, prefix);
      this.kv.delete(CATEGORY.channel, prefix);
      this.kv.delete(CATEGORY.sum, key(keyPart.string(CATEGORY.meta), prefix));
      this.kv.deletePrefix(CATEGORY.sum, key(keyPart.string(CATEGORY.log), prefix));
      this.kv.deletePrefix(CATEGORY.settings, key(keyPart.string("channel"), keyPart.string(channelId)));
    });
    this.blooms.delete(channelId);
    if (result.ok) this.channels.delete(channelId);
    return result;
  }

  async listChannels(): Promise<Result<string[], StoreError>> {
    const closed = this.guard();
    if (closed) return err(closed);
    try {
      const ids = new Set<string>();
      for (const category of [CATEGORY.meta, CATEGORY.channel]) {
        for (const row of this.kv.scanCategory(category)) {
          const parts = decodeStringKey(row.key, 1);
          if (parts?.length === 1) ids.add(parts[0] as string);
        }
      }
      return ok([...ids].sort());
    } catch (error) {
      return err(toStoreError(error, "listing channels", this.path));
    }
  }

  /** Stores a per-channel setting of ours (`sdstk.settings`), e.g. the channel's dialect. */
  putChannelSetting(channelId: string, name: string, value: Uint8Array): Result<void, StoreError> {
    const rowKey = channelSettingKey(channelId, name);
    return this.run("saving a channel setting", () => this.kv.put(CATEGORY.settings, rowKey, frameRow(CATEGORY.settings, rowKey, 0n, value)));
  }

  /** Reads a per-channel setting; undefined when unset; E_STORE_CORRUPT when it fails its checksum. */
  getChannelSetting(channelId: string, name: string): Result<Uint8Array | undefined, StoreError> {
    try {
      const rowKey = channelSettingKey(channelId, name);
      const payload = this.kv.get(CATEGORY.settings, rowKey);
      if (payload === undefined) return ok(undefined);
      const opened = unframeRow(CATEGORY.settings, rowKey, payload);
      if (!opened.ok) return err(new StoreError("E_STORE_CORRUPT", `setting ${name} of channel ${channelId}: ${opened.reason}`, { path: this.path }));
      return ok(opened.body.slice());
    } catch (error) {
      return err(toStoreError(error, "reading a channel setting", this.path));
    }
  }

  /**
   * Writes (value) and deletes (`undefined`) several per-channel settings in ONE transaction.
   * `durability: "process"` commits with `synchronous = NORMAL`: the rows survive a killed
   * process but may not survive a power cut. It suits marks whose loss only repeats work
   * (`listen`'s printed marks), and spares an fsync per batch on the receive path.
   */
  putChannelSettings(channelId: string, entries: ReadonlyArray<readonly [string, Uint8Array | undefined]>, durability: "power" | "process" = "power"): Result<void, StoreError> {
    if (entries.length === 0) return ok(undefined);
    const write = () =>
      this.run("saving channel settings", () => {
        for (const [name, value] of entries) {
          const rowKey = channelSettingKey(channelId, name);
          if (value === undefined) this.kv.delete(CATEGORY.settings, rowKey);
          else this.kv.put(CATEGORY.settings, rowKey, frameRow(CATEGORY.settings, rowKey, 0n, value));
        }
      });
    if (durability === "power" || this.closed) return write();
    const level = this.db.pragma("synchronous", { simple: true }) as number;
    if (level <= 1) return write();
    this.db.pragma("synchronous = NORMAL");
    try {
      return write();
    } finally {
      this.db.pragma(`synchronous = ${level}`);
    }
  }

  /** The per-channel settings whose names start with `prefix`, in name order; a row failing its checksum is E_STORE_CORRUPT. */
  listChannelSettings(channelId: string, prefix: string): Result<Array<[string, Uint8Array]>, StoreError> {
    try {
      const found: Array<[string, Uint8Array]> = [];
      for (const row of this.kv.scanPrefix(CATEGORY.settings, key(keyPart.string("channel"), keyPart.string(channelId)))) {
        const name = decodeStringKey(row.key, 3)?.[2];
        if (name === undefined || !name.startsWith(prefix)) continue;
        const opened = unframeRow(CATEGORY.settings, row.key, row.payload);
        if (!opened.ok) return err(new StoreError("E_STORE_CORRUPT", `setting ${name} of channel ${channelId}: ${opened.reason}`, { path: this.path }));
        found.push([name, opened.body.slice()]);
      }
      return ok(found);
    } catch (error) {
      return err(toStoreError(error, "listing channel settings", this.path));
    }
  }

  /** Checkpoints the WAL into the database file (TRUNCATE), e.g. before a file copy. */
  checkpoint(): Result<void, StoreError> {
    try {
      this.db.pragma("wal_checkpoint(TRUNCATE)");
      return ok(undefined);
    } catch (error) {
      return err(toStoreError(error, "checkpointing", this.path));
    }
  }

  async close(): Promise<void> {
    this.closeSync();
  }

  /** Closes the connection and releases the writer lock; idempotent. */
  closeSync(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.db.close();
    } finally {
      this.lock?.release();
    }
  }
}

/** Opens a SQLite store at `path` (see {@link SqlitePersistence.open}). */
export function openStore(path: string, options: SqliteStoreOptions = {}): Result<SqlitePersistence, StoreError> {
  return SqlitePersistence.open(path, options);
}
