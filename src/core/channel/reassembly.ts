/**
 * Bounded reassembly of segmented payloads (research/reliable-channel.md §2.4). Segments are
 * grouped into sets keyed by `hash ‖ originalPayloadLength`; a set completes when all its data
 * segments are held, is truncated to the original length and checked against its Keccak-256
 * hash. Every limit is explicit (sets, buffered bytes, per-set timeout, segment counts) and
 * every outcome is a typed value, never an exception: `complete`, `progress`, `discarded`
 * (with a reason) or `lost` (expired, evicted, hash mismatch). Parity segments are recognised
 * and reported as `parity-ignored`: this reassembler does NOT reconstruct from parity.
 * Pure: time comes from the injected `now`.
 */
import { DecodeError } from "../errors.js";
import { assert } from "../assert.js";
import {
  SEGMENT_BYTES_MAX_DEFAULT,
  SEGMENT_TOTAL_COUNT_MAX_DEFAULT,
  decodeSegment,
  payloadHash,
  type Segment,
} from "./segmentation.js";

/** Why a single segment was not used. */
export type SegmentDiscardReason =
  | "undecodable" // not a SegmentMessage at all (wire-level decode error)
  | "invalid" // decoded but breaks a rule of §2.4 (or its data overruns the declared length)
  | "oversized" // segment payload above `segmentBytesMax`
  | "too-large" // declared payload larger than `bufferedBytesMax`: could never be held
  | "duplicate" // this (class, index) of the set is already held
  | "count-mismatch" // counts disagree with the set's first segment
  | "parity-ignored"; // a parity segment: recognised, not used (no Reed-Solomon here)

/** Why a whole set was given up. */
export type SetLostReason = "expired" | "evicted" | "hash-mismatch";

/** One result of feeding the reassembler. `T` is the caller's per-segment tag. */
export type ReassemblyOutcome<T> =
  | { kind: "complete"; payloadHash: string; payload: Uint8Array; tags: T[] }
  | { kind: "progress"; payloadHash: string; held: number; expected: number }
  | { kind: "discarded"; reason: SegmentDiscardReason; payloadHash?: string; error?: DecodeError; tag: T }
  | { kind: "lost"; payloadHash: string; reason: SetLostReason; held: number; expected: number; tags: T[] };

/** Limits and clock of a {@link Reassembler}. Defaults are the nim-segmentation ones. */
export interface ReassemblerOptions {
  /** Sets held at once; the least recently updated is evicted beyond it (default 100). */
  segmentSetsMax?: number;
  /** Segment payload bytes held across all sets (default 32 MiB). */
  bufferedBytesMax?: number;
  /** A set not complete this long after its first segment is lost (default 300 000 ms). */
  setTimeoutMs?: number;
  /** Largest accepted segment payload, bytes (default 102 400). */
  segmentBytesMax?: number;
  /** Largest data + parity count of a set (default 256). */
  totalSegmentCountMax?: number;
  /** Current time in ms (injected; the reassembler never reads a clock itself). */
  now: () => number;
}

interface SegmentSet<T> {
  key: string;
  hashHex: string;
  hash: Uint8Array;
  originalPayloadLength: number;
  dataSegmentCount: number;
  paritySegmentCount: number | undefined;
  chunks: Map<number, { bytes: Uint8Array; tag: T }>;
  bufferedBytes: number;
  createdMs: number;
}

const hexOf = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
const equalBytes = (left: Uint8Array, right: Uint8Array): boolean => left.length === right.length && left.every((byte, index) => byte === right[index]);

/** Reassembles segment streams into whole payloads within fixed memory and time bounds. */
export class Reassembler<T = undefined> {
  private readonly sets = new Map<string, SegmentSet<T>>(); // insertion order = least recently updated first
  private buffered = 0;
  private readonly limits: Required<Omit<ReassemblerOptions, "now">>;
  private readonly now: () => number;

  constructor(options: ReassemblerOptions) {
    this.now = options.now;
    this.limits = {
      segmentSetsMax: options.segmentSetsMax ?? 100,
      bufferedBytesMax: options.bufferedBytesMax ?? 32 * 1024 * 1024,
      setTimeoutMs: options.setTimeoutMs ?? 300_000,
      segmentBytesMax: options.segmentBytesMax ?? SEGMENT_BYTES_MAX_DEFAULT,
      totalSegmentCountMax: options.totalSegmentCountMax ?? SEGMENT_TOTAL_COUNT_MAX_DEFAULT,
    };
    for (const [name, value] of Object.entries(this.limits)) {
      assert(Number.isSafeInteger(value) && value > 0, `reassembler limit ${name} must be a positive integer`);
    }
  }

  /** Number of incomplete sets held. */
  get setCount(): number {
    return this.sets.size;
  }

  /** Segment payload bytes currently buffered. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Time (ms) at which the oldest held set expires, for scheduling a {@link sweep}; undefined when none. */
  nextExpiryMs(): number | undefined {
    let earliest: number | undefined;
    for (const set of this.sets.values()) {
      const expiry = set.createdMs + this.limits.setTimeoutMs;
      if (earliest === undefined || expiry < earliest) earliest = expiry;
    }
    return earliest;
  }

  /** Drops every set older than `setTimeoutMs`, reporting each as `lost` / `expired`. */
  sweep(): ReassemblyOutcome<T>[] {
    const outcomes: ReassemblyOutcome<T>[] = [];
    if (this.sets.size === 0) return outcomes; // every one-segment payload passes here: no copy of an empty map
    const now = this.now();
    for (const set of [...this.sets.values()]) {
      if (now - set.createdMs >= this.limits.setTimeoutMs) outcomes.push(this.drop(set, "expired"));
    }
    return outcomes;
  }

  /**
   * Feeds one encoded segment (an SDS `content`) with the caller's `tag` (e.g. its SDS message
   * id). `scope` (e.g. the sender id) is part of the set key, so one sender cannot inject
   * segments into another's set. Expired sets are swept first; the returned outcomes list
   * those, any evictions, and the segment's own result last. Late copies of a delivered set
   * are not remembered here: SDS deduplicates retransmissions by message id before this.
   */
  accept(bytes: Uint8Array, tag: T, scope = ""): ReassemblyOutcome<T>[] {
    const outcomes = this.sweep();
    let segment: Segment;
    try {
      segment = decodeSegment(bytes, { segmentBytesMax: this.limits.segmentBytesMax, totalSegmentCountMax: this.limits.totalSegmentCountMax });
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      const reason = error.code !== "E_SEGMENT_INVALID" ? "undecodable" : error.field === "segmentPayload" ? "oversized" : "invalid";
      outcomes.push({ kind: "discarded", reason, error, tag });
      return outcomes;
    }
    outcomes.push(...this.place(segment, tag, scope));
    return outcomes;
  }

  private place(segment: Segment, tag: T, scope: string): ReassemblyOutcome<T>[] {
    const hashHex = hexOf(segment.originalPayloadHash);
    const key = `${scope.length}:${scope}:${hashHex}:${segment.originalPayloadLength}`;
    const discard = (reason: SegmentDiscardReason): ReassemblyOutcome<T>[] => [{ kind: "discarded", reason, payloadHash: hashHex, tag }];
    if (segment.originalPayloadLength > this.limits.bufferedBytesMax) return discard("too-large");
    const existing = this.sets.get(key);
    if (existing && (existing.dataSegmentCount !== segment.dataSegmentCount || existing.paritySegmentCount !== segment.paritySegmentCount)) {
      return discard("count-mismatch");
    }
    if (segment.isParity) return discard("parity-ignored");
    if (existing?.chunks.has(segment.index)) return discard("duplicate");
    const set = existing ?? this.open(segment, key, hashHex);
    if (set.bufferedBytes + segment.segmentPayload.length > set.originalPayloadLength) {
      if (!existing) this.sets.delete(key);
      return discard("invalid");
    }
    const outcomes = this.makeRoom(set, segment.segmentPayload.length);
    set.chunks.set(segment.index, { bytes: segment.segmentPayload.slice(), tag });
    set.bufferedBytes += segment.segmentPayload.length;
    this.buffered += segment.segmentPayload.length;
    this.sets.delete(key);
    this.sets.set(key, set); // most recently updated goes last
    outcomes.push(set.chunks.size === set.dataSegmentCount ? this.finish(set) : { kind: "progress", payloadHash: hashHex, held: set.chunks.size, expected: set.dataSegmentCount });
    return outcomes;
  }

  private open(segment: Segment, key: string, hashHex: string): SegmentSet<T> {
    const set: SegmentSet<T> = {
      key,
      hashHex,
      hash: segment.originalPayloadHash.slice(),
      originalPayloadLength: segment.originalPayloadLength,
      dataSegmentCount: segment.dataSegmentCount,
      paritySegmentCount: segment.paritySegmentCount,
      chunks: new Map(),
      bufferedBytes: 0,
      createdMs: this.now(),
    };
    this.sets.set(key, set);
    return set;
  }

  /** Evicts least recently updated sets (never `keep`) until the set cap and byte budget allow `extraBytes`. */
  private makeRoom(keep: SegmentSet<T>, extraBytes: number): ReassemblyOutcome<T>[] {
    const outcomes: ReassemblyOutcome<T>[] = [];
    if (this.sets.size <= this.limits.segmentSetsMax && this.buffered + extraBytes <= this.limits.bufferedBytesMax) return outcomes;
    for (const set of [...this.sets.values()]) {
      const overSets = this.sets.size > this.limits.segmentSetsMax;
      const overBytes = this.buffered + extraBytes > this.limits.bufferedBytesMax;
      if (!overSets && !overBytes) break;
      if (set !== keep) outcomes.push(this.drop(set, "evicted"));
    }
    assert(this.buffered + extraBytes <= this.limits.bufferedBytesMax, "a set never holds more than its declared length, which fits the budget");
    return outcomes;
  }

  private drop(set: SegmentSet<T>, reason: SetLostReason): ReassemblyOutcome<T> {
    this.sets.delete(set.key);
    this.buffered -= set.bufferedBytes;
    const tags = [...set.chunks.values()].map((chunk) => chunk.tag);
    return { kind: "lost", payloadHash: set.hashHex, reason, held: set.chunks.size, expected: set.dataSegmentCount, tags };
  }

  private finish(set: SegmentSet<T>): ReassemblyOutcome<T> {
    const payload = new Uint8Array(set.originalPayloadLength);
    let offset = 0;
    const tags: T[] = [];
    for (let index = 0; index < set.dataSegmentCount; index++) {
      const chunk = set.chunks.get(index);
      assert(chunk !== undefined, "finish is only called with every data segment held");
      payload.set(chunk.bytes, offset);
      offset += chunk.bytes.length;
      tags.push(chunk.tag);
    }
    if (offset !== set.originalPayloadLength || !equalBytes(payloadHash(payload), set.hash)) return this.drop(set, "hash-mismatch");
    this.sets.delete(set.key);
    this.buffered -= set.bufferedBytes;
    return { kind: "complete", payloadHash: set.hashHex, payload, tags };
  }
}
