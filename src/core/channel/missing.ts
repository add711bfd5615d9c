/**
 * Which missing SDS dependencies the channel should fetch from the relay store, and when.
 * An entry is remembered from the first report until it is delivered or given up; a
 * retrieval hint learnt later (another peer's causal history) upgrades it; a hint is asked
 * for again every `fetchRetryMs` while the dependency is still missing (a store answer can be
 * lost too). A dependency nobody gave a hint for (the sender's own history carries none) can
 * only come from a time-range store query: {@link MissingDependencies.gapSince} says from when,
 * at most once per `fetchRetryMs`. Bounded by `entriesMax` (oldest forgotten first). Pure.
 */
import type { HistoryEntry } from "../protocol/types.js";

interface MissingEntry {
  hint: Uint8Array | undefined;
  askedAtMs: number | undefined;
  reportedAtMs: number;
  /** Earliest relay store time (ns) of an envelope that depends on this entry; undefined if unknown. */
  dependentStoredAtNs: bigint | undefined;
}

/** Tracks missing dependencies and the store fetches due for them. */
export class MissingDependencies {
  private readonly entries = new Map<string, MissingEntry>();
  private gapAskedAtMs: number | undefined;

  constructor(
    /** Do not ask for the same hint again sooner than this, ms. */
    readonly fetchRetryMs: number,
    /** Dependencies remembered at most; the oldest is forgotten beyond it. */
    readonly entriesMax: number,
  ) {}

  /** Dependencies currently remembered. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Records dependencies reported missing by a message the relay stored at `dependentStoredAtNs`
   * (0n or undefined: unknown), adding a hint to an entry that had none.
   */
  report(missing: readonly HistoryEntry[], nowMs: number, dependentStoredAtNs?: bigint): void {
    const storedAt = dependentStoredAtNs !== undefined && dependentStoredAtNs > 0n ? dependentStoredAtNs : undefined;
    for (const dependency of missing) {
      const hint = dependency.retrievalHint && dependency.retrievalHint.length > 0 ? dependency.retrievalHint : undefined;
      const known = this.entries.get(dependency.messageId);
      if (known === undefined) {
        this.entries.set(dependency.messageId, { hint, askedAtMs: undefined, reportedAtMs: nowMs, dependentStoredAtNs: storedAt });
        continue;
      }
      if (known.hint === undefined && hint !== undefined) known.hint = hint;
      if (storedAt !== undefined && (known.dependentStoredAtNs === undefined || storedAt < known.dependentStoredAtNs)) known.dependentStoredAtNs = storedAt;
    }
    while (this.entries.size > this.entriesMax) this.entries.delete(this.entries.keys().next().value as string);
  }

  /** Forgets dependencies that arrived or were given up. */
  resolve(messageIds: Iterable<string>): void {
    for (const messageId of messageIds) this.entries.delete(messageId);
  }

  /** Hints to fetch now (never asked, or asked at least `fetchRetryMs` ago); marks them asked. */
  due(nowMs: number): Uint8Array[] {
    const hints: Uint8Array[] = [];
    for (const entry of this.entries.values()) {
      if (entry.hint === undefined) continue;
      if (entry.askedAtMs !== undefined && nowMs - entry.askedAtMs < this.fetchRetryMs) continue;
      entry.askedAtMs = nowMs;
      hints.push(entry.hint);
    }
    return hints;
  }

  /**
   * Relay time (ns) to run a time-range store query from, when a hintless dependency has been
   * missing for `fetchRetryMs` and no such query ran in the last `fetchRetryMs`: the earliest
   * dependent's store time minus `lookbackMs`. Marks the query as asked. Undefined otherwise.
   */
  gapSince(nowMs: number, lookbackMs: number): bigint | undefined {
    if (this.gapAskedAtMs !== undefined && nowMs - this.gapAskedAtMs < this.fetchRetryMs) return undefined;
    let earliest: bigint | undefined;
    let any = false;
    for (const entry of this.entries.values()) {
      if (entry.hint !== undefined || nowMs - entry.reportedAtMs < this.fetchRetryMs) continue;
      any = true;
      if (entry.dependentStoredAtNs !== undefined && (earliest === undefined || entry.dependentStoredAtNs < earliest)) earliest = entry.dependentStoredAtNs;
    }
    if (!any) return undefined;
    this.gapAskedAtMs = nowMs;
    if (earliest === undefined) return 0n;
    const since = earliest - BigInt(Math.floor(lookbackMs)) * 1_000_000n;
    return since > 0n ? since : 0n;
  }
}
