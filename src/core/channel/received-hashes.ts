/**
 * The relay hashes of the envelopes a Reliable Channel has received and processed, the most
 * recent {@link RECEIVED_HASHES_MAX} of them. A store sync re-reads every envelope of its time
 * window, mostly ones that already arrived live; the channel skips those by hash (same hash,
 * same bytes) instead of decoding each again only for the engine to call it a duplicate.
 */

/** Most hashes remembered (hex strings of 64 characters: about 6 MB at the bound). */
export const RECEIVED_HASHES_MAX = 50_000;

/** A bounded, insertion-ordered set of envelope hashes (hex); the oldest are forgotten first. */
export class ReceivedHashes {
  private readonly hashes = new Set<string>();

  constructor(private readonly entriesMax: number = RECEIVED_HASHES_MAX) {}

  /** Remembers `hashHex` (an empty hash is ignored: nothing to match it by). */
  add(hashHex: string): void {
    if (hashHex === "" || this.hashes.has(hashHex)) return;
    this.hashes.add(hashHex);
    if (this.hashes.size > this.entriesMax) this.hashes.delete(this.hashes.values().next().value as string);
  }

  /** True when `hashHex` was received and is still remembered. */
  has(hashHex: string): boolean {
    return this.hashes.has(hashHex);
  }

  /** Hashes currently remembered. */
  get size(): number {
    return this.hashes.size;
  }
}
