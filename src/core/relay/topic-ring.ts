/**
 * One content topic's stored messages, oldest first, for the relay store. Entries live in
 * columns (typed arrays of offsets, lengths and store times, plus the arrays holding the bytes):
 * a publish adds no JavaScript object of its own, so the ten thousand messages a topic keeps
 * cost the garbage collector nothing, and evicting the oldest reads two numbers instead of
 * following pointers into an entry ten thousand publishes old. Small envelopes and every hash are
 * copied into 16 KiB slabs (a slab is freed once its last entry is evicted). `StoredMessage`
 * objects are made only when a query asks for entries.
 */
import { toHex } from "./envelope.js";
import { HashIndex } from "./hash-index.js";

/** One stored envelope, as queries and persistence see it. */
export interface StoredMessage {
  topic: string;
  /** 32-byte message hash. */
  hash: Uint8Array;
  hashHex: string;
  /** The envelope exactly as published (encoded). */
  envelope: Uint8Array;
  /** Relay store time (ns); strictly increasing across the store. */
  storedAtNs: bigint;
}

/** A stored message handed out by a query; its hex hash is made on first use. */
export class StoredEntry implements StoredMessage {
  private hexCache: string | undefined;

  constructor(
    readonly topic: string,
    readonly hash: Uint8Array,
    readonly envelope: Uint8Array,
    readonly storedAtNs: bigint,
  ) {}

  get hashHex(): string {
    return (this.hexCache ??= toHex(this.hash));
  }
}

/** Bytes per slab that small envelopes and hashes are copied into. */
const SLAB_BYTES = 16 * 1024;
/** Envelopes above this get an array of their own. */
const SLAB_ENVELOPE_BYTES_MAX = SLAB_BYTES / 8;
/** Slots a ring starts with; it doubles when full, up to its entry bound. */
const CAPACITY_MIN = 64;
const EMPTY = new Uint8Array(0);

/** Copies `bytes` to `target[offset…]`: a loop for a hash, `set()` (a memmove) for anything longer. */
function copyInto(target: Uint8Array, offset: number, bytes: Uint8Array): void {
  if (bytes.length > 32) return target.set(bytes, offset);
  for (let index = 0; index < bytes.length; index++) target[offset + index] = bytes[index] as number;
}

/** The stored messages of one topic: a growable circular buffer of columns, indexed by hash. */
export class TopicRing {
  /** Stored messages. */
  size = 0;
  /** Envelope bytes stored. */
  bytes = 0;
  private capacity = 0;
  /** Slot of the oldest entry. */
  private head = 0;
  private hashArrays: Uint8Array[] = [];
  private hashOffsets = new Int32Array(0);
  private hashLengths = new Int32Array(0);
  /** Each entry's index key: evicting the oldest then reads no bytes written long ago. */
  private hashKeys = new Int32Array(0);
  private envelopeArrays: Uint8Array[] = [];
  private envelopeOffsets = new Int32Array(0);
  private envelopeLengths = new Int32Array(0);
  private storedAt = new BigUint64Array(0);
  /** Slots by hash. */
  private readonly index = new HashIndex((slot, hash) => this.hashEquals(slot, hash));
  private slab: Uint8Array = EMPTY;
  private slabUsed = 0;

  /** @param capacityMax most entries the ring will ever hold (the store's per-topic bound). */
  constructor(private readonly capacityMax: number) {
    this.resize(Math.min(CAPACITY_MIN, capacityMax));
  }

  /** The place (0 = oldest) of the entry whose hash equals `hash`, or -1. */
  find(hash: Uint8Array): number {
    const slot = this.index.get(hash);
    if (slot < 0) return -1;
    return slot >= this.head ? slot - this.head : slot + this.capacity - this.head;
  }

  /** Store time of the entry at `place` (0 = oldest). */
  storedAtNs(place: number): bigint {
    return this.storedAt[this.slotAt(place)] as bigint;
  }

  /** Envelope bytes of the entry at `place` (0 = oldest). */
  envelopeLength(place: number): number {
    return this.envelopeLengths[this.slotAt(place)] as number;
  }

  /** The entry at `place` (0 = oldest) as a {@link StoredMessage} (views of the stored bytes). */
  message(topic: string, place: number): StoredEntry {
    const slot = this.slotAt(place);
    const hashOffset = this.hashOffsets[slot] as number;
    const envelopeOffset = this.envelopeOffsets[slot] as number;
    const hash = (this.hashArrays[slot] as Uint8Array).subarray(hashOffset, hashOffset + (this.hashLengths[slot] as number));
    const envelope = (this.envelopeArrays[slot] as Uint8Array).subarray(envelopeOffset, envelopeOffset + (this.envelopeLengths[slot] as number));
    return new StoredEntry(topic, hash, envelope, this.storedAt[slot] as bigint);
  }

  /** Place (0 = oldest) of the first entry with a store time ≥ `t`; `size` when none. */
  lowerBound(t: bigint): number {
    let low = 0;
    let high = this.size;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.storedAt[this.slotAt(middle)] as bigint) < t) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /**
   * Appends copies of `hash` and `envelope` (with `owned`, a large `envelope` is kept as it is:
   * the caller hands it over). The hash must not be stored yet, and the ring must hold fewer than
   * its bound (the store evicts first).
   */
  push(hash: Uint8Array, envelope: Uint8Array, owned: boolean, storedAtNs: bigint): void {
    if (this.size === this.capacity) this.resize(Math.max(this.size + 1, Math.min(this.capacity * 2, this.capacityMax)));
    const slot = this.slotAt(this.size);
    const small = envelope.length <= SLAB_ENVELOPE_BYTES_MAX;
    const hashInSlab = hash.length <= SLAB_ENVELOPE_BYTES_MAX;
    const slabOffset = this.slabSpace((hashInSlab ? hash.length : 0) + (small ? envelope.length : 0));
    const slab = this.slab;
    if (hashInSlab) {
      copyInto(slab, slabOffset, hash);
      this.hashArrays[slot] = slab;
      this.hashOffsets[slot] = slabOffset;
    } else {
      this.hashArrays[slot] = hash.slice();
      this.hashOffsets[slot] = 0;
    }
    this.hashLengths[slot] = hash.length;
    if (small) {
      const envelopeOffset = slabOffset + (hashInSlab ? hash.length : 0);
      copyInto(slab, envelopeOffset, envelope);
      this.envelopeArrays[slot] = slab;
      this.envelopeOffsets[slot] = envelopeOffset;
    } else {
      this.envelopeArrays[slot] = owned ? envelope : envelope.slice();
      this.envelopeOffsets[slot] = 0;
    }
    this.envelopeLengths[slot] = envelope.length;
    this.storedAt[slot] = storedAtNs;
    const key = this.index.keyOf(hash, 0, hash.length);
    this.hashKeys[slot] = key;
    this.index.add(key, slot);
    this.size += 1;
    this.bytes += envelope.length;
  }

  /** Drops the oldest entry. */
  shift(): void {
    const slot = this.head;
    this.index.delete(this.hashKeys[slot] as number, slot);
    this.bytes -= this.envelopeLengths[slot] as number;
    // The slot no longer holds its slab or array alive.
    this.hashArrays[slot] = EMPTY;
    this.envelopeArrays[slot] = EMPTY;
    this.head = this.head + 1 === this.capacity ? 0 : this.head + 1;
    this.size -= 1;
  }

  private slotAt(place: number): number {
    const slot = this.head + place;
    return slot >= this.capacity ? slot - this.capacity : slot;
  }

  private hashEquals(slot: number, hash: Uint8Array): boolean {
    if (this.hashLengths[slot] !== hash.length) return false;
    const bytes = this.hashArrays[slot] as Uint8Array;
    const offset = this.hashOffsets[slot] as number;
    for (let index = 0; index < hash.length; index++) if (bytes[offset + index] !== hash[index]) return false;
    return true;
  }

  /** Offset of `length` (≤ 2 × SLAB_ENVELOPE_BYTES_MAX) free bytes in the current slab, taken. */
  private slabSpace(length: number): number {
    if (length === 0) return 0;
    if (this.slabUsed + length > this.slab.length) {
      this.slab = new Uint8Array(SLAB_BYTES);
      this.slabUsed = 0;
    }
    const offset = this.slabUsed;
    this.slabUsed += length;
    return offset;
  }

  /** Moves the entries, oldest first, into columns of `capacity` slots. */
  private resize(capacity: number): void {
    const hashArrays: Uint8Array[] = new Array<Uint8Array>(capacity).fill(EMPTY);
    const envelopeArrays: Uint8Array[] = new Array<Uint8Array>(capacity).fill(EMPTY);
    const hashOffsets = new Int32Array(capacity);
    const hashLengths = new Int32Array(capacity);
    const hashKeys = new Int32Array(capacity);
    const envelopeOffsets = new Int32Array(capacity);
    const envelopeLengths = new Int32Array(capacity);
    const storedAt = new BigUint64Array(capacity);
    for (let place = 0; place < this.size; place++) {
      const slot = this.slotAt(place);
      hashArrays[place] = this.hashArrays[slot] as Uint8Array;
      envelopeArrays[place] = this.envelopeArrays[slot] as Uint8Array;
      hashOffsets[place] = this.hashOffsets[slot] as number;
      hashLengths[place] = this.hashLengths[slot] as number;
      hashKeys[place] = this.hashKeys[slot] as number;
      envelopeOffsets[place] = this.envelopeOffsets[slot] as number;
      envelopeLengths[place] = this.envelopeLengths[slot] as number;
      storedAt[place] = this.storedAt[slot] as bigint;
    }
    this.hashArrays = hashArrays;
    this.envelopeArrays = envelopeArrays;
    this.hashOffsets = hashOffsets;
    this.hashLengths = hashLengths;
    this.hashKeys = hashKeys;
    this.envelopeOffsets = envelopeOffsets;
    this.envelopeLengths = envelopeLengths;
    this.storedAt = storedAt;
    this.capacity = capacity;
    this.head = 0;
    this.index.clear();
    for (let slot = 0; slot < this.size; slot++) this.index.add(hashKeys[slot] as number, slot);
  }
}
