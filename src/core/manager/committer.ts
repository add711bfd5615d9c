/**
 * The two persistence policies of the ReliabilityManager. `write-before-release` commits an
 * operation's deltas (one `Persistence.commit`, i.e. one transaction) before anything is
 * released; on failure it throws the store's typed error and the caller discards the touched
 * channels so they reload from the store as they were. `best-effort` (nim-sds) never fails an
 * operation: a failed commit keeps the deltas in a pending queue, merged "latest wins" per
 * channel, and retries them with the next operation's commit.
 */
import { StoreError, type SdsError } from "../errors.js";
import type { DeltaBuilder } from "../protocol/engine/index.js";
import type { Persistence } from "../store/contract.js";

/** How a manager treats persistence failures. */
export type PersistencePolicy = "write-before-release" | "best-effort";

/** Outcome of a commit attempt. */
export type CommitOutcome = { committed: true } | { committed: false; error: SdsError };

/** Commits operation deltas according to a policy. */
export class Committer {
  /** best-effort only: deltas not yet on disk, by channel. */
  private readonly pending = new Map<string, DeltaBuilder>();

  constructor(private readonly persistence: Persistence | undefined, readonly policy: PersistencePolicy) {}

  /** Channels with deltas waiting for a retry (best-effort). */
  get pendingChannels(): string[] {
    return [...this.pending.keys()];
  }

  /** Forgets pending deltas of a channel (it was dropped). */
  forget(channelId: string): void {
    this.pending.delete(channelId);
  }

  /** Forgets every pending delta. */
  clear(): void {
    this.pending.clear();
  }

  /**
   * Commits `builders` (plus pending ones under best-effort) in one transaction.
   * write-before-release: throws the typed `StoreError` on failure.
   * best-effort: returns the failure and keeps everything pending.
   */
  async commit(builders: readonly DeltaBuilder[]): Promise<CommitOutcome> {
    if (this.persistence === undefined) return { committed: true };
    const merged = new Map<string, DeltaBuilder>();
    if (this.policy === "best-effort") for (const [id, builder] of this.pending) merged.set(id, builder);
    for (const builder of builders) {
      if (builder.isEmpty) continue;
      const earlier = merged.get(builder.channelId);
      if (earlier === undefined) merged.set(builder.channelId, builder);
      else if (earlier !== builder) {
        earlier.merge(builder);
      }
    }
    if (merged.size === 0) return { committed: true };
    const deltas = [...merged.values()].map((builder) => builder.toChannelDelta());
    let error: SdsError | undefined;
    try {
      const result = await this.persistence.commit(deltas);
      if (!result.ok) error = result.error;
    } catch (thrown) {
      error = new StoreError("E_STORE_IO", `persistence commit threw: ${thrown instanceof Error ? thrown.message : String(thrown)}`, {}, { cause: thrown });
    }
    if (error === undefined) {
      this.pending.clear();
      return { committed: true };
    }
    if (this.policy === "write-before-release") throw error;
    for (const [id, builder] of merged) this.pending.set(id, builder);
    return { committed: false, error };
  }
}
