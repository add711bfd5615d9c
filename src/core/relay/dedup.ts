/**
 * A bounded "seen" set of (topic, message hash) pairs with least-recently-seen eviction. The
 * relay client and the in-memory hub use it to hand each distinct message to subscribers once,
 * whatever faults, re-publishes or store catch-up deliver twice. Memory is bounded by
 * `entriesMax` keys (about 150 bytes each).
 */

/** Remembers the last `entriesMax` distinct (topic, hash) pairs. */
export class SeenHashes {
  private readonly keys = new Map<string, true>();
  /**
   * A live iterator over `keys`, oldest first, that eviction advances. A fresh `keys()` per
   * eviction started over at the front of the map's table and stepped over every deleted entry
   * still there: 10–60 µs per message once a listener had seen `entriesMax` messages.
   */
  private oldest: Iterator<string> = this.keys.keys();

  constructor(readonly entriesMax: number) {}

  /** Records the pair; returns false when it was already there (and refreshes it). */
  add(topic: string, hashHex: string): boolean {
    const key = `${topic}\n${hashHex}`;
    if (this.keys.has(key)) {
      this.keys.delete(key);
      this.keys.set(key, true);
      return false;
    }
    this.keys.set(key, true);
    if (this.keys.size > this.entriesMax) {
      let next = this.oldest.next();
      if (next.done === true) {
        this.oldest = this.keys.keys();
        next = this.oldest.next();
      }
      this.keys.delete(next.value as string);
    }
    return true;
  }

  /** Number of remembered pairs (≤ entriesMax). */
  get size(): number {
    return this.keys.size;
  }
}
