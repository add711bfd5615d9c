/**
 * The simulator's storage fault layer: wraps a real `Persistence` (memory or SQLite file) and,
 * per seed, fails commits with typed errors (random I/O errors, disk-full and busy episodes),
 * fails loads at restart, and arms crashes that hit the next commit before or after it lands.
 *
 * A crash is not thrown through the engine: the wrapper only notes that the peer "died" at this
 * point (and, for `before-commit`, refuses the write), and the peer driver discards the manager
 * and everything the operation returned. That models a process death without depending on how
 * the engine treats exceptions from a store. All faults switch off for the liveness phase.
 */
import { type Result, StoreError, err } from "../../src/core/errors.js";
import type { ChannelData, ChannelDelta, ChannelMeta, HistoryUpdate, Persistence } from "../../src/core/store/contract.js";
import type { Counters } from "./counters.js";
import type { SimRandom } from "./prng.js";
import type { PowerJournal } from "./power-loss.js";
import type { CrashPoint } from "./scenarios.js";

/** Per-seed storage fault knobs (basis points for probabilities). */
export interface StorageFaults {
  commitFailBp: number;
  /** The write lands but the call reports failure (the caller cannot tell which). */
  ambiguousCommitBp: number;
  loadFailBp: number;
}

/** A `Persistence` that injects faults and crash points into a real store. */
export class SimStore implements Persistence {
  /** Faults on or off (off in the liveness phase). */
  faultsEnabled = true;
  /** While set (virtual ms), commits fail with this code: a disk-full or busy episode. */
  episode: { code: "E_STORE_FULL" | "E_STORE_BUSY"; untilMs: number } | undefined;
  /** A crash waiting for the next commit. */
  armedCrash: "before-commit" | "after-commit" | undefined;
  /** Set when an armed crash fired; the peer driver reads it after each operation. */
  crashed: CrashPoint | undefined;
  /** Commits that landed. */
  commits = 0;
  /** Set when the last failed commit had in fact landed; the peer reads and clears it. */
  ambiguous = false;
  /**
   * S9: called when an armed before-commit crash hit a SQLite store inside its transaction, with
   * the canonical state of each touched channel before the commit; the world checks the reopened
   * store against it (the rolled-back transaction must leave exactly that state).
   */
  onTornCommit: ((expected: Map<string, string>) => void) | undefined;
  /** Power-loss journal of this peer's store (memory/model stores with power cuts only). */
  journal: PowerJournal | undefined;

  constructor(
    readonly inner: Persistence,
    private readonly random: SimRandom,
    private readonly faults: StorageFaults,
    private readonly counters: Counters,
    private readonly now: () => number,
    /** What closing this incarnation does: SQLite closes the connection (the OS would); memory keeps its "disk". */
    private readonly onClose: () => Promise<void>,
  ) {}

  private injected(operation: string): StoreError | undefined {
    if (!this.faultsEnabled) return undefined;
    if (this.episode !== undefined && this.now() < this.episode.untilMs) {
      this.counters.add(`store.fault.${this.episode.code}`);
      return new StoreError(this.episode.code, `simulated ${this.episode.code} during ${operation}`);
    }
    const bp = operation === "loadChannel" ? this.faults.loadFailBp : this.faults.commitFailBp;
    if (this.random.chance(bp)) {
      this.counters.add(`store.fault.io.${operation}`);
      return new StoreError("E_STORE_IO", `simulated I/O error during ${operation}`);
    }
    return undefined;
  }

  async commit(deltas: readonly ChannelDelta[]): Promise<Result<void>> {
    if (this.crashed !== undefined) return err(new StoreError("E_STORE_IO", "process is dead"));
    if (this.armedCrash === "before-commit") {
      this.armedCrash = undefined;
      this.crashed = "before-commit";
      await this.tearCommit(deltas);
      return err(new StoreError("E_STORE_IO", "simulated crash before commit"));
    }
    const fault = this.injected("commit");
    if (fault !== undefined) return err(fault);
    const result = await this.inner.commit(deltas);
    if (result.ok) this.commits += 1;
    if (result.ok && this.journal !== undefined) {
      const copy = structuredClone(deltas);
      this.journal.record((target) => target.commit(copy));
    }
    if (result.ok && this.faultsEnabled && this.random.chance(this.faults.ambiguousCommitBp)) {
      this.counters.add("store.fault.ambiguous-commit");
      this.ambiguous = true;
      return err(new StoreError("E_STORE_IO", "simulated I/O error reported after the write landed"));
    }
    if (result.ok && this.armedCrash === "after-commit") {
      this.armedCrash = undefined;
      this.crashed = "after-commit";
    }
    return result;
  }

  /**
   * On SQLite, the before-commit crash runs the commit and dies inside its transaction (after
   * 1–3 write statements, or before COMMIT), which the engine cannot tell from a crash before it.
   * The statement count comes from the commit number, not the random stream, so the trace of a
   * seed does not change. A memory store applies a delta in one step: nothing to tear.
   */
  private async tearCommit(deltas: readonly ChannelDelta[]): Promise<void> {
    if (this.onTornCommit === undefined || !("kv" in this.inner)) return;
    const { canonicalChannel, tornCommit } = await import("./sqlite-backing.js");
    const expected = new Map<string, string>();
    for (const channelId of new Set(deltas.map((delta) => delta.channelId))) {
      const before = await this.inner.loadChannel(channelId);
      if (!before.ok) return;
      expected.set(channelId, canonicalChannel(before.value));
    }
    const statements = 1 + (this.commits % 3);
    const ran = await tornCommit(this.inner, () => this.inner.commit(deltas), statements);
    if (ran === undefined) return;
    this.counters.add("crash.inside-transaction");
    this.counters.add(`crash.inside-transaction.after-${Math.min(ran, statements)}-statements`);
    this.onTornCommit(expected);
  }

  async loadChannel(channelId: string): Promise<Result<ChannelData | undefined>> {
    const fault = this.injected("loadChannel");
    if (fault !== undefined) return err(fault);
    return this.inner.loadChannel(channelId);
  }

  async saveChannelMeta(channelId: string, meta: ChannelMeta): Promise<Result<void>> {
    const fault = this.injected("saveChannelMeta");
    if (fault !== undefined) return err(fault);
    const result = await this.inner.saveChannelMeta(channelId, meta);
    if (result.ok && this.journal !== undefined) {
      const copy = structuredClone(meta);
      this.journal.record((target) => target.saveChannelMeta(channelId, copy));
    }
    return result;
  }

  async updateHistory(channelId: string, update: HistoryUpdate): Promise<Result<void>> {
    const fault = this.injected("updateHistory");
    if (fault !== undefined) return err(fault);
    const result = await this.inner.updateHistory(channelId, update);
    if (result.ok && this.journal !== undefined) {
      const copy = structuredClone(update);
      this.journal.record((target) => target.updateHistory(channelId, copy));
    }
    return result;
  }

  async dropChannel(channelId: string): Promise<Result<void>> {
    const result = await this.inner.dropChannel(channelId);
    if (result.ok) this.journal?.record((target) => target.dropChannel(channelId));
    return result;
  }

  async setRetrievalHint(channelId: string, messageId: string, hint: Uint8Array): Promise<Result<void>> {
    const result = await this.inner.setRetrievalHint(channelId, messageId, hint);
    if (result.ok) {
      const copy = hint.slice();
      this.journal?.record((target) => target.setRetrievalHint(channelId, messageId, copy));
    }
    return result;
  }

  listChannels(): Promise<Result<string[]>> {
    return this.inner.listChannels();
  }

  async close(): Promise<void> {
    await this.onClose();
  }
}
