/**
 * Exercise counters: how often each fault and each recovery path actually fired.
 *
 * TigerBeetle's one Jepsen-found correctness bug sat where the fuzzer never generated the
 * triggering input (reliability.md §1.9), so a batch of seeds fails when a counter that its
 * configuration should have exercised stayed at zero (the blind-spot guard, §5.1).
 */

/** Named non-negative counts, merged across seeds of a batch. */
export class Counters {
  private readonly counts = new Map<string, number>();

  /** Adds `amount` (default 1) to `name`. */
  add(name: string, amount = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + amount);
  }

  /** Raises `name` to at least `value` (a high-water mark). */
  max(name: string, value: number): void {
    if (value > (this.counts.get(name) ?? 0)) this.counts.set(name, value);
  }

  /** Current value (0 when never touched). */
  get(name: string): number {
    return this.counts.get(name) ?? 0;
  }

  /** Adds every count of `other` into this one (high-water marks `*.max` keep the max). */
  merge(other: Counters): void {
    for (const [name, value] of other.entries()) {
      if (name.endsWith(".max")) this.max(name, value);
      else this.add(name, value);
    }
  }

  /** Entries sorted by name (stable output for reports and trace hashes). */
  entries(): Array<[string, number]> {
    return [...this.counts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** A plain object, sorted by name. */
  toJSON(): Record<string, number> {
    return Object.fromEntries(this.entries());
  }
}
