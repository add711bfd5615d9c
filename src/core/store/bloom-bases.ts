/**
 * The bases that bloom diffs refer to. A base is either a whole filter (`sdstk.bbase`, an
 * 18.7 KB row for a spec filter) or a sparse diff against such a whole base, its ROOT
 * (`sdstk.bdelta`). A busy sender needs a new base every few messages; writing it as a diff
 * against the sender's root costs a few KB instead of 18.7 KB, and a new root is written only
 * when that diff passes {@link rootDiffPairsMax}. Every message row still diffs against one
 * base, so deleting rows never breaks a chain: roots are refcounted by the bases that diff
 * against them exactly as bases are refcounted by diff rows, and a row nothing refers to is
 * deleted in the same transaction. Base sequences are one numbering across both categories.
 */
import { StoreError } from "../errors.js";
import { WORD_BYTES, applyDiff, changedWords, decodeBloomDiff, encodeDiffFrom } from "./bloom-diff.js";
import { key, keyPart } from "./keys.js";
import { CATEGORY, channelKey, frameRow, unframeRow } from "./rows.js";
import type { Kv } from "./sqlite-db.js";

/**
 * Most changed words a base may differ from its root by before a new root is written: about
 * 1/4 of the filter (1,172 words of a spec filter, a new root every ~100 messages of a busy
 * sender at 10 new bits per message). Measured on the bench's later-acks group commit (WAL
 * bytes per message, with diffs at 1/64): 1/2 1,652, 1/4 1,519, 1/6 1,505, 1/8 1,510,
 * 1/16 1,566; whole bases every time 2,250. Readers accept any size.
 */
export function rootDiffPairsMax(bloomBytes: number): number {
  return Math.max(16, Math.ceil(bloomBytes / WORD_BYTES / 4));
}

/** Key of a base row, whole or delta: `key(channelId, baseSequence)`. */
export function baseKey(channelId: string, sequence: bigint): Uint8Array {
  return key(channelKey(channelId), keyPart.uint64(sequence));
}

/** The base bookkeeping of a channel's bloom write state (bloom-rows.ts `BloomWriteState`). */
export interface BaseBook {
  nextBaseSequence: bigint;
  /** Live references per base sequence: diff rows and inline diffs, and for a root also the delta bases on it. */
  references: Map<bigint, number>;
  /** The root of each delta base (a base absent here is whole). */
  rootOf: Map<bigint, bigint>;
  /** Each sender's current root: a whole base, its exact length and its word-aligned copy (never written to). */
  roots: Map<string, { sequence: bigint; bloomBytes: number; aligned: Uint8Array }>;
  /** Each sender's current base (bloom-rows.ts keeps more per entry); forgotten when its base is deleted. */
  current: Map<string, { sequence: bigint }>;
}

function corrupt(message: string): StoreError {
  return new StoreError("E_STORE_CORRUPT", `${message} (run \`sds inspect-db --repair\`)`);
}

/**
 * Writes a new base for `senderId`'s `filter` (`aligned`: its word-aligned copy, kept by the
 * caller and never written to): a delta against the sender's root when the two differ in at
 * most {@link rootDiffPairsMax} words, else a whole base that becomes the sender's root.
 * Returns the new base's sequence (no references yet).
 */
export function writeBase(kv: Kv, book: BaseBook, channelId: string, senderId: string, filter: Uint8Array, aligned: Uint8Array): bigint {
  const sequence = book.nextBaseSequence;
  book.nextBaseSequence += 1n;
  const rowKey = baseKey(channelId, sequence);
  const root = book.roots.get(senderId);
  // exact lengths, not aligned ones: filters of 517 and 518 bytes pad to the same words
  const changed = root !== undefined && root.bloomBytes === filter.length ? changedWords(root.aligned, aligned, rootDiffPairsMax(filter.length)) : undefined;
  if (root !== undefined && changed !== undefined) {
    kv.put(CATEGORY.bloomBaseDelta, rowKey, frameRow(CATEGORY.bloomBaseDelta, rowKey, sequence, encodeDiffFrom(root.sequence, filter, changed)));
    book.rootOf.set(sequence, root.sequence);
    book.references.set(root.sequence, (book.references.get(root.sequence) ?? 0) + 1);
  } else {
    kv.put(CATEGORY.bloomBase, rowKey, frameRow(CATEGORY.bloomBase, rowKey, sequence, filter));
    book.roots.set(senderId, { sequence, bloomBytes: filter.length, aligned });
  }
  return sequence;
}

/**
 * Drops one reference to base `sequence`; at none left deletes its row (whole or delta) and
 * forgets it as anyone's current base or root. A delta base deleted drops its reference to
 * its root in turn.
 */
export function releaseBase(kv: Kv, book: BaseBook, channelId: string, sequence: bigint): void {
  const left = (book.references.get(sequence) ?? 1) - 1;
  if (left > 0) {
    book.references.set(sequence, left);
    return;
  }
  book.references.delete(sequence);
  for (const [sender, current] of book.current) if (current.sequence === sequence) book.current.delete(sender);
  const root = book.rootOf.get(sequence);
  if (root === undefined) {
    kv.delete(CATEGORY.bloomBase, baseKey(channelId, sequence));
    for (const [sender, current] of book.roots) if (current.sequence === sequence) book.roots.delete(sender);
    return;
  }
  book.rootOf.delete(sequence);
  kv.delete(CATEGORY.bloomBaseDelta, baseKey(channelId, sequence));
  releaseBase(kv, book, channelId, root);
}

/**
 * Reads a channel's base rows into `book` (sequence numbering, delta → root, the roots'
 * references by their deltas). Returns the sequences found, whole and delta. Throws on a
 * damaged row.
 */
export function scanBases(kv: Kv, book: BaseBook, channelId: string): { whole: bigint[]; delta: bigint[] } {
  const found = { whole: [] as bigint[], delta: [] as bigint[] };
  for (const category of [CATEGORY.bloomBase, CATEGORY.bloomBaseDelta] as const) {
    for (const row of kv.scanPrefix(category, channelKey(channelId))) {
      const opened = unframeRow(category, row.key, row.payload);
      if (!opened.ok) throw corrupt(`${category} row of ${channelId}: ${opened.reason}`);
      if (opened.sequence >= book.nextBaseSequence) book.nextBaseSequence = opened.sequence + 1n;
      if (category === CATEGORY.bloomBase) {
        found.whole.push(opened.sequence);
        continue;
      }
      let root: bigint;
      try {
        root = decodeBloomDiff(opened.body).baseSequence;
      } catch (error) {
        throw corrupt(`${category} row ${opened.sequence} of ${channelId} does not decode: ${error instanceof Error ? error.message : String(error)}`);
      }
      found.delta.push(opened.sequence);
      book.rootOf.set(opened.sequence, root);
      book.references.set(root, (book.references.get(root) ?? 0) + 1);
    }
  }
  return found;
}

/**
 * Deletes the bases of `found` that nothing refers to once every diff reference is counted:
 * delta bases first (each drops its root's reference), then whole bases. Returns the rows
 * deleted (for repair's account).
 */
export function dropUnreferencedBases(kv: Kv, book: BaseBook, channelId: string, found: { whole: bigint[]; delta: bigint[] }): Array<{ category: string; rowKey: Uint8Array }> {
  const deleted: Array<{ category: string; rowKey: Uint8Array }> = [];
  for (const sequence of found.delta) {
    if (book.references.has(sequence)) continue;
    const root = book.rootOf.get(sequence) as bigint;
    book.rootOf.delete(sequence);
    kv.delete(CATEGORY.bloomBaseDelta, baseKey(channelId, sequence));
    deleted.push({ category: CATEGORY.bloomBaseDelta, rowKey: baseKey(channelId, sequence) });
    const left = (book.references.get(root) ?? 1) - 1;
    if (left > 0) book.references.set(root, left);
    else book.references.delete(root);
  }
  for (const sequence of found.whole) {
    if (book.references.has(sequence)) continue;
    kv.delete(CATEGORY.bloomBase, baseKey(channelId, sequence));
    deleted.push({ category: CATEGORY.bloomBase, rowKey: baseKey(channelId, sequence) });
  }
  return deleted;
}

function readBaseRow(kv: Kv, channelId: string, sequence: bigint, category: typeof CATEGORY.bloomBase | typeof CATEGORY.bloomBaseDelta): { body: Uint8Array } | string | undefined {
  const rowKey = baseKey(channelId, sequence);
  const payload = kv.get(category, rowKey);
  if (payload === undefined) return undefined;
  const opened = unframeRow(category, rowKey, payload);
  if (!opened.ok) return `bloom base ${sequence} (${category}): ${opened.reason}`;
  if (opened.sequence !== sequence) return `bloom base keyed ${sequence} says ${opened.sequence}`;
  return { body: opened.body };
}

/** A root's whole filter, or why not (missing, damaged); cached per pass under -1 - sequence (whole rows only: no chains). */
function readWholeRoot(kv: Kv, channelId: string, sequence: bigint, cache?: Map<bigint, Uint8Array | string>): Uint8Array | string {
  const slot = -1n - sequence;
  const cached = cache?.get(slot);
  if (cached !== undefined) return cached;
  const root = readBaseRow(kv, channelId, sequence, CATEGORY.bloomBase);
  const result = root === undefined ? "the root is missing" : typeof root === "string" ? root : root.body;
  cache?.set(slot, result);
  return result;
}

/**
 * The whole filter of base `sequence`: its `sdstk.bbase` row, or its `sdstk.bdelta` row
 * applied to its root (which must be whole). A string says why it cannot be rebuilt.
 * `cache` (per read pass) keeps each base rebuilt once. Never throws.
 */
export function readBase(kv: Kv, channelId: string, sequence: bigint, cache?: Map<bigint, Uint8Array | string>): Uint8Array | string {
  const cached = cache?.get(sequence);
  if (cached !== undefined) return cached;
  let result: Uint8Array | string;
  const whole = readBaseRow(kv, channelId, sequence, CATEGORY.bloomBase);
  if (whole !== undefined) result = typeof whole === "string" ? whole : whole.body;
  else {
    const delta = readBaseRow(kv, channelId, sequence, CATEGORY.bloomBaseDelta);
    if (delta === undefined) result = `bloom base ${sequence} of channel ${channelId} is missing`;
    else if (typeof delta === "string") result = delta;
    else {
      try {
        const diff = decodeBloomDiff(delta.body);
        const root = readWholeRoot(kv, channelId, diff.baseSequence, cache);
        if (typeof root === "string") result = `bloom base ${sequence} is a diff against root ${diff.baseSequence}: ${root}`;
        else result = applyDiff(root, diff);
      } catch (error) {
        result = `bloom base ${sequence} (${CATEGORY.bloomBaseDelta}) does not decode: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
  }
  cache?.set(sequence, result);
  return result;
}
