/**
 * The relay store's index from a message hash (32 bytes of SHA-256) to a number (the entry's
 * slot in its topic ring). It is looked up once per publish (dedup) and changed twice (the new
 * entry, the evicted one), so it is an open-addressing table of two int32 per position (a 30-bit
 * key from the hash, the value) with linear probing and backward-shift deletion: no objects, no
 * strings, one or two cache lines per operation. A hex-string-keyed Map cost a string per publish
 * and pointer chases per comparison; a number-keyed Map still cost ~0.3 µs per delete. The full
 * hash is compared through a callback (the ring holds the bytes), so equal keys are harmless.
 * Which four bytes make the key and how keys spread over the table are drawn at random per index,
 * so that publishers cannot grind hashes that pile up in one probe run.
 */
import { randomInt } from "node:crypto";

/** Positions a fresh index starts with (it doubles past half full). */
const POSITIONS_MIN = 16;

/** Numbers (0 ≤ value < 2^31 − 1) by the bytes of a hash; at most one value per distinct hash. */
export class HashIndex {
  /** Per position: [key, value + 1]; value + 1 = 0 marks an empty position. */
  private table = new Int32Array(2 * POSITIONS_MIN);
  private mask = POSITIONS_MIN - 1;
  /** 32 − log2(positions): the top bits of the mixed key pick the home position. */
  private shift = 32 - Math.log2(POSITIONS_MIN);
  private count = 0;
  /** Odd multiplier of the multiply-shift that spreads keys over the table. */
  private readonly multiplier = randomInt(0, 2 ** 31) * 2 + 1;
  /** Where in a hash its four key bytes start (a hash shorter than that reads from 0). */
  private readonly keyOffset = randomInt(0, 29);

  /** @param matches true when `value`'s hash equals `hash` (the caller holds the bytes). */
  constructor(private readonly matches: (value: number, hash: Uint8Array) => boolean) {}

  /** The key of the `length`-byte hash at `bytes[offset]`: 30 bits of four of its bytes. */
  keyOf(bytes: Uint8Array, offset: number, length: number): number {
    if (length < 4) {
      let key = length;
      for (let index = 0; index < length; index++) key = (key << 8) | (bytes[offset + index] as number);
      return key;
    }
    const at = offset + (length >= this.keyOffset + 4 ? this.keyOffset : 0);
    return (bytes[at] as number) | ((bytes[at + 1] as number) << 8) | ((bytes[at + 2] as number) << 16) | (((bytes[at + 3] as number) & 0x3f) << 24);
  }

  /** The value whose hash equals `hash`, or -1. */
  get(hash: Uint8Array): number {
    const key = this.keyOf(hash, 0, hash.length);
    const table = this.table;
    for (let position = this.home(key); ; position = (position + 1) & this.mask) {
      const stored = table[2 * position + 1] as number;
      if (stored === 0) return -1;
      if (table[2 * position] === key && this.matches(stored - 1, hash)) return stored - 1;
    }
  }

  /** Indexes `value` under `key` ({@link keyOf} its hash), which must not be indexed yet (check with {@link get}). */
  add(key: number, value: number): void {
    if (2 * (this.count + 1) > this.mask + 1) this.grow();
    this.place(key, value);
    this.count += 1;
  }

  /** Removes `value`, indexed under `key`. */
  delete(key: number, value: number): void {
    const table = this.table;
    const mask = this.mask;
    let hole = this.home(key);
    while (table[2 * hole + 1] !== value + 1) {
      if (table[2 * hole + 1] === 0) return;
      hole = (hole + 1) & mask;
    }
    // Backward shift: entries after the hole that may live there (their home is not between the
    // hole and them) move into it, so every probe run stays unbroken without tombstones.
    for (let next = (hole + 1) & mask; table[2 * next + 1] !== 0; next = (next + 1) & mask) {
      const home = this.home(table[2 * next] as number);
      if (((next - home) & mask) >= ((next - hole) & mask)) {
        table[2 * hole] = table[2 * next] as number;
        table[2 * hole + 1] = table[2 * next + 1] as number;
        hole = next;
      }
    }
    table[2 * hole] = 0;
    table[2 * hole + 1] = 0;
    this.count -= 1;
  }

  /** Forgets every value (the ring re-adds them after moving its slots). */
  clear(): void {
    this.table.fill(0);
    this.count = 0;
  }

  /** Number of indexed values. */
  get size(): number {
    return this.count;
  }

  private home(key: number): number {
    return Math.imul(key, this.multiplier) >>> this.shift;
  }

  private place(key: number, value: number): void {
    let position = this.home(key);
    while (this.table[2 * position + 1] !== 0) position = (position + 1) & this.mask;
    this.table[2 * position] = key;
    this.table[2 * position + 1] = value + 1;
  }

  private grow(): void {
    const old = this.table;
    const positions = 2 * (this.mask + 1);
    this.table = new Int32Array(2 * positions);
    this.mask = positions - 1;
    this.shift -= 1;
    for (let position = 0; position < old.length / 2; position++) {
      const stored = old[2 * position + 1] as number;
      if (stored !== 0) this.place(old[2 * position] as number, stored - 1);
    }
  }
}
