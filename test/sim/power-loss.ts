/**
 * Power loss for the memory-backed peers (reliability.md §5.5): a per-peer journal of every
 * write that reached the store, split into what is on stable storage ("synced") and what sits
 * only in the OS page cache ("unsynced"). Under write-before-release the store is modelled with
 * SQLite's `synchronous = FULL` (each commit is durable when it returns), so a power cut loses
 * nothing that was acknowledged; under best-effort it is modelled with a lazy sync (`NORMAL`-like:
 * durable every `syncEveryWrites` writes), so a cut loses the unsynced tail and the simulator
 * measures what that costs (sender amnesia, lamport regressions, re-deliveries).
 *
 * The real SQLite store cannot be power-cut in-process (the page cache is the OS's); its
 * durability is the kill -9 / LazyFS harness's job. SQLite-backed seeds get no power cuts.
 */
import type { Persistence } from "../../src/core/store/contract.js";
import { MemoryPersistence } from "../../src/core/store/memory.js";
import type { Counters } from "./counters.js";
import { ModelStore } from "./model-store.js";

/** One write, replayable on a fresh store (its arguments deep-copied when recorded). */
export type JournalWrite = (target: Persistence) => Promise<unknown>;

/** How writes become durable. */
export type SyncMode = "full" | "lazy";

/** Synced and unsynced writes of one peer's store; survives the peer's incarnations. */
export class PowerJournal {
  private readonly synced: JournalWrite[] = [];
  private unsynced: JournalWrite[] = [];

  constructor(
    readonly mode: SyncMode,
    /** Lazy mode: writes per sync (a checkpoint / fsync). */
    private readonly syncEveryWrites: number,
    private readonly counters: Counters,
    private readonly kind: "memory" | "model",
  ) {}

  /** Notes a write that landed in the store (page cache). */
  record(write: JournalWrite): void {
    if (this.mode === "full") {
      this.synced.push(write);
      return;
    }
    this.unsynced.push(write);
    if (this.unsynced.length >= this.syncEveryWrites) this.sync();
  }

  /** Everything written so far reaches stable storage. */
  sync(): void {
    if (this.unsynced.length === 0) return;
    this.synced.push(...this.unsynced);
    this.unsynced = [];
    this.counters.add("power.sync");
  }

  /** The power goes: the unsynced writes are gone; returns the store as it is on disk. */
  async cut(): Promise<Persistence> {
    this.counters.add("power.cut");
    this.counters.add(`power.lost-writes.${this.mode}`, this.unsynced.length);
    this.unsynced = [];
    const disk: Persistence = this.kind === "memory" ? new MemoryPersistence() : new ModelStore();
    for (const write of this.synced) await write(disk);
    return disk;
  }
}
