/**
 * A channel's local history: delivered (and own sent) messages ordered by (lamport, id),
 * bounded, oldest evicted first. Kept as a sorted array with a moving head plus an id map,
 * so the common case (a message newer than everything) is an O(1) append, lookups are O(1),
 * eviction is O(1) amortised and "the last K entries" is a slice: no per-message work
 * grows with the history size (js-waku re-sorts the whole log on every push).
 */
import type { HistoryEntry, SdsMessage } from "../types.js";

/** One delivered message as the engine keeps it. */
export interface HistoryRecord {
  readonly messageId: string;
  readonly lamport: bigint;
  /** The entry other messages carry to reference this one (id, hint, sender). Shared, never copied. */
  entry: HistoryEntry;
  /** The message without its bloom filter (kept for repair rebroadcasts and persistence). */
  readonly message: SdsMessage;
}

/** Total order of the spec's local log: lamport ascending, then message id ascending. */
export function compareRecords(a: { lamport: bigint; messageId: string }, b: { lamport: bigint; messageId: string }): number {
  if (a.lamport !== b.lamport) return a.lamport < b.lamport ? -1 : 1;
  return a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0;
}

/** Sorted, bounded local history. */
export class LocalHistory {
  private records: HistoryRecord[] = [];
  private head = 0;
  private readonly byId = new Map<string, HistoryRecord>();

  /** Encoded causal-history bytes (see {@link recentEncoded}): log, per-record start offsets. */
  private log = new Uint8Array(0);
  private logLength = 0;
  private offsets: number[] = [];
  /** Records index of the first logged record, and of the first record not yet logged. */
  private logFrom = 0;
  private encodedUpTo = 0;

  /**
   * @param entriesMax cap in entries; inserting beyond it evicts the oldest.
   * @param encodeTagged optional: an entry's bytes as a repeated causal-history field
   *   (key, length, entry), for {@link recentEncoded}.
   */
  constructor(readonly entriesMax: number, private readonly encodeTagged?: (entry: HistoryEntry) => Uint8Array) {}

  /** Number of records held. */
  get size(): number {
    return this.records.length - this.head;
  }

  /** `true` when a message with this id is held. */
  has(messageId: string): boolean {
    return this.byId.has(messageId);
  }

  /** The record of `messageId`, if held. */
  get(messageId: string): HistoryRecord | undefined {
    return this.byId.get(messageId);
  }

  /**
   * Inserts `record` in (lamport, id) order. Returns the records evicted to stay within
   * `entriesMax` (possibly `record` itself when it is older than everything in a full log).
   * A record whose id is already held is ignored (returns `[]`).
   */
  insert(record: HistoryRecord): HistoryRecord[] {
    if (this.byId.has(record.messageId)) return [];
    const records = this.records;
    const last = records.length > this.head ? records[records.length - 1]! : undefined;
    if (last === undefined || compareRecords(last, record) < 0) {
      records.push(record);
    } else {
      let low = this.head;
      let high = records.length;
      while (low < high) {
        const middle = (low + high) >>> 1;
        if (compareRecords(records[middle]!, record) < 0) low = middle + 1;
        else high = middle;
      }
      records.splice(low, 0, record);
      this.invalidateFrom(low);
    }
    this.byId.set(record.messageId, record);
    const evicted: HistoryRecord[] = [];
    while (this.size > this.entriesMax) {
      const oldest = records[this.head]!;
      records[this.head] = undefined as unknown as HistoryRecord;
      this.head += 1;
      this.byId.delete(oldest.messageId);
      evicted.push(oldest);
    }
    if (this.head > 1024 && this.head * 2 > records.length) {
      const shift = this.head;
      this.records = records.slice(shift);
      this.head = 0;
      if (this.logFrom >= shift) {
        this.offsets = this.offsets.slice(shift);
        this.logFrom -= shift;
        this.encodedUpTo -= shift;
      } else {
        this.resetLog(0);
      }
    }
    return evicted;
  }

  /**
   * Replaces the causal-history entry of a held record (e.g. to add its retrieval hint).
   * Entries are shared immutable objects (the codec caches their bytes by identity), so pass a
   * NEW object; the encoded log is re-encoded from that record on. Returns `false` if not held.
   */
  replaceEntry(messageId: string, entry: HistoryEntry): boolean {
    const record = this.byId.get(messageId);
    if (record === undefined) return false;
    record.entry = entry;
    let low = this.head;
    let high = this.records.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareRecords(this.records[middle]!, record) < 0) low = middle + 1;
      else high = middle;
    }
    this.invalidateFrom(low);
    return true;
  }

  /** The entries of the `count` most recent records, oldest first (the causal history to attach). */
  recentEntries(count: number): HistoryEntry[] {
    const start = Math.max(this.head, this.records.length - count);
    const entries: HistoryEntry[] = new Array(this.records.length - start);
    for (let index = start; index < this.records.length; index += 1) entries[index - start] = this.records[index]!.entry;
    return entries;
  }

  private invalidateFrom(index: number): void {
    if (index >= this.encodedUpTo) return;
    if (index >= this.logFrom) {
      this.logLength = this.offsets[index]!;
      this.encodedUpTo = index;
      this.offsets.length = index;
    } else {
      this.resetLog(index);
    }
  }

  private resetLog(index: number): void {
    this.logFrom = index;
    this.encodedUpTo = index;
    this.logLength = 0;
    this.offsets.length = index;
  }

  /**
   * The causal-history field bytes of the `count` most recent records, exactly as the codec
   * would write `recentEntries(count)`: each record's entry is encoded once, appended to a
   * log, and the window is a view into it (valid until the next insert). Inserts in the
   * middle re-encode only the records after them; the log is compacted to the window when
   * it grows past twice its size. Requires `encodeTagged`.
   */
  recentEncoded(count: number): Uint8Array {
    const encode = this.encodeTagged;
    if (encode === undefined) throw new Error("LocalHistory.recentEncoded needs an encoder");
    const records = this.records;
    const start = Math.max(this.head, records.length - count);
    if (start < this.logFrom || start > this.encodedUpTo) this.resetLog(start);
    if (start > this.logFrom && this.offsets[start]! > 65_536 && this.offsets[start]! * 2 > this.logLength) {
      const shift = this.offsets[start]!;
      const kept = new Uint8Array(Math.max(1024, (this.logLength - shift) * 2));
      kept.set(this.log.subarray(shift, this.logLength));
      this.log = kept;
      for (let index = start; index < this.encodedUpTo; index++) this.offsets[index] = this.offsets[index]! - shift;
      this.logLength -= shift;
      this.logFrom = start;
    }
    for (let index = this.encodedUpTo; index < records.length; index++) {
      const bytes = encode(records[index]!.entry);
      if (this.logLength + bytes.length > this.log.length) {
        const grown = new Uint8Array(Math.max(1024, (this.logLength + bytes.length) * 2));
        grown.set(this.log.subarray(0, this.logLength));
        this.log = grown;
      }
      this.offsets[index] = this.logLength;
      this.log.set(bytes, this.logLength);
      this.logLength += bytes.length;
    }
    this.encodedUpTo = records.length;
    const from = start < records.length ? this.offsets[start]! : this.logLength;
    return this.log.subarray(from, this.logLength);
  }

  /** All records, oldest first (a copy). */
  toArray(): HistoryRecord[] {
    return this.records.slice(this.head);
  }

  /** Ids, oldest first. */
  ids(): string[] {
    return this.toArray().map((record) => record.messageId);
  }
}
