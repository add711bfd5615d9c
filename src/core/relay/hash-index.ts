/**
 * The relay store's index from a message hash (32 bytes of SHA-256) to a number (the entry's
 * sequence number in its topic ring). It is looked up once per publish (dedup) and changed twice
 * (the new entry, the evicted one), so it is keyed by a small integer taken from the hash's first
 * bytes: V8 keeps such keys and values unboxed in the map's own table, where a 64-digit hex string
 * key cost a string per publish and pointer chases per comparison. The full hash is compared
 * through a callback (the ring holds the bytes). Hashes that share an integer key are kept in a
 * second map from that key to a list; only such collisions (about 1 in 100,000 publishes with
 * 10,000 stored) reach it.
 */

/**
 * The integer key of the `length`-byte hash at `bytes[offset]`: 30 bits of its first four bytes
 * (a small integer on every V8); a shorter hash is its bytes.
 */
export function hashKey(bytes: Uint8Array, offset: number, length: number): number {
  if (length < 4) {
    let key = length;
    for (let index = 0; index < length; index++) key = (key << 8) | (bytes[offset + index] as number);
    return key;
  }
  return (bytes[offset] as number) | ((bytes[offset + 1] as number) << 8) | ((bytes[offset + 2] as number) << 16) | (((bytes[offset + 3] as number) & 0x3f) << 24);
}

/** Non-negative numbers by the bytes of a hash; at most one value per distinct hash. */
export class HashIndex {
  private readonly byKey = new Map<number, number>();
  /** Values whose integer key was held by another hash when they were added. */
  private readonly collided = new Map<number, number[]>();

  /** @param matches true when `value`'s hash equals `hash` (the caller holds the bytes). */
  constructor(private readonly matches: (value: number, hash: Uint8Array) => boolean) {}

  /** The value whose hash equals `hash`, or -1. */
  get(hash: Uint8Array): number {
    const key = hashKey(hash, 0, hash.length);
    const value = this.byKey.get(key);
    if (value !== undefined && this.matches(value, hash)) return value;
    if (this.collided.size === 0) return -1;
    for (const other of this.collided.get(key) ?? []) if (this.matches(other, hash)) return other;
    return -1;
  }

  /**
   * Indexes `value` under its hash's {@link hashKey}. The hash must not be indexed yet (a caller
   * checks with {@link get}).
   */
  add(key: number, value: number): void {
    if (!this.byKey.has(key)) return void this.byKey.set(key, value);
    const list = this.collided.get(key);
    if (list === undefined) this.collided.set(key, [value]);
    else list.push(value);
  }

  /** Removes `value`, indexed under `key` (its hash's {@link hashKey}). */
  delete(key: number, value: number): void {
    if (this.byKey.get(key) === value) return void this.byKey.delete(key);
    const list = this.collided.get(key);
    if (list === undefined) return;
    const at = list.indexOf(value);
    if (at >= 0) list.splice(at, 1);
    if (list.length === 0) this.collided.delete(key);
  }

  /** Number of indexed values. */
  get size(): number {
    let size = this.byKey.size;
    for (const list of this.collided.values()) size += list.length;
    return size;
  }
}
