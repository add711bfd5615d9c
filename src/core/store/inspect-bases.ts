/**
 * `inspect-db`'s check of the bloom base graph (bloom-bases.ts): every delta base
 * (`sdstk.bdelta`) must diff against a whole root (`sdstk.bbase`) that is present and
 * undamaged, and every base must be referred to (a root by a delta base or a diff, a base by
 * a message's diff row or an outgoing row's inline diff). The writer deletes a base when its
 * last reference goes, in the same transaction, so an orphan means damage or an interrupted
 * repair; a delta whose root is gone takes its messages' filters with it, which the row pass
 * reports on the messages themselves.
 */
import { decodeBloomDiff } from "./bloom-diff.js";
import type { InspectProblem, RowPass } from "./inspect-rows.js";
import { CATEGORY, unframeRow } from "./rows.js";
import { unacknowledgedWireDiff } from "./snapshot-entries.js";
import type { Kv } from "./sqlite-db.js";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The channel id of a row key that starts with `toKey(channelId)`; undefined when it does not decode. */
export function channelOf(rowKey: Uint8Array): string | undefined {
  if (rowKey.length < 2) return undefined;
  const length = ((rowKey[0] as number) << 8) | (rowKey[1] as number);
  if (2 + length > rowKey.length) return undefined;
  try {
    return utf8.decode(rowKey.subarray(2, 2 + length));
  } catch {
    return undefined;
  }
}

interface ChannelBases {
  /** Whole bases that open and match their key, by sequence → row key. */
  whole: Map<bigint, Uint8Array>;
  /** Delta bases that open and decode: sequence → root and row key. */
  delta: Map<bigint, { root: bigint; rowKey: Uint8Array }>;
  /** Base sequences something refers to. */
  referenced: Set<bigint>;
}

function channelBases(all: Map<string, ChannelBases>, channelId: string): ChannelBases {
  let bases = all.get(channelId);
  if (bases === undefined) {
    bases = { whole: new Map(), delta: new Map(), referenced: new Set() };
    all.set(channelId, bases);
  }
  return bases;
}

/** Base sequence a diff body names, or undefined when it does not decode (the row pass reports that). */
function baseOf(body: Uint8Array | undefined): bigint | undefined {
  if (body === undefined) return undefined;
  try {
    return decodeBloomDiff(body).baseSequence;
  } catch {
    return undefined;
  }
}

/** Gathers every channel's bases and the references to them (damaged rows are the row pass's to report). */
function gather(kv: Kv): Map<string, ChannelBases> {
  const all = new Map<string, ChannelBases>();
  for (const category of [CATEGORY.bloomBase, CATEGORY.bloomBaseDelta] as const) {
    for (const row of kv.scanCategory(category)) {
      const channelId = channelOf(row.key);
      const opened = unframeRow(category, row.key, row.payload);
      if (channelId === undefined || !opened.ok) continue;
      const bases = channelBases(all, channelId);
      if (category === CATEGORY.bloomBase) bases.whole.set(opened.sequence, row.key);
      else {
        const root = baseOf(opened.body);
        if (root !== undefined) bases.delta.set(opened.sequence, { root, rowKey: row.key });
      }
    }
  }
  for (const category of [CATEGORY.bloom, CATEGORY.wireBloom, CATEGORY.outgoing] as const) {
    for (const row of kv.scanCategory(category)) {
      const channelId = channelOf(row.key);
      const opened = unframeRow(category, row.key, row.payload);
      if (channelId === undefined || !opened.ok) continue;
      let body: Uint8Array | undefined = opened.body;
      if (category === CATEGORY.outgoing) {
        try {
          body = unacknowledgedWireDiff(opened.body);
        } catch {
          body = undefined;
        }
      }
      const base = baseOf(body);
      if (base !== undefined) channelBases(all, channelId).referenced.add(base);
    }
  }
  return all;
}

/**
 * Adds a problem for every delta base whose root is missing or damaged (quarantine: nothing
 * can rebuild it) and every base nothing refers to (delete: no filter needs it).
 */
export function checkBases(kv: Kv, pass: RowPass): void {
  const problem = (category: string, rowKey: Uint8Array, channelId: string, reason: string, action: InspectProblem["action"]) =>
    pass.problems.push({ category, key: hex(rowKey), channelId, reason, action });
  for (const [channelId, bases] of gather(kv)) {
    for (const [sequence, delta] of bases.delta) {
      if (!bases.whole.has(delta.root)) {
        problem(CATEGORY.bloomBaseDelta, delta.rowKey, channelId, `bloom base ${sequence} is a diff against root ${delta.root}, which is missing or damaged`, "quarantine");
        continue;
      }
      bases.referenced.add(delta.root);
      if (!bases.referenced.has(sequence)) problem(CATEGORY.bloomBaseDelta, delta.rowKey, channelId, `bloom base ${sequence}: no diff refers to it`, "delete");
    }
    for (const [sequence, rowKey] of bases.whole) {
      if (!bases.referenced.has(sequence)) problem(CATEGORY.bloomBase, rowKey, channelId, `bloom base ${sequence}: no base or diff refers to it (an orphan root)`, "delete");
    }
  }
}
