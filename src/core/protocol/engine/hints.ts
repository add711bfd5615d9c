/**
 * Retrieval hints learnt after the fact: the envelope hash our relay returned when it stored
 * one of our own messages (js-waku computes it before sending; we learn it from the publish
 * acknowledgement). Recording it in the history entry makes every later causal history that
 * references the message carry the hint, so a peer that missed it can fetch it from the relay
 * store by hash instead of by time range. Written through the operation's delta (and so to
 * `retrievalHints` in the store) like any other change; restored with the channel.
 */
import { SdsError } from "../../errors.js";
import type { Operation } from "./operation.js";

/** Longest hint accepted, bytes (the wire decoder's `retrievalHintBytesMax`). */
export const RETRIEVAL_HINT_BYTES_MAX = 1024;

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  if (a === undefined || a.length !== b.length) return false;
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return false;
  return true;
}

/**
 * Sets the retrieval hint of `messageId` (in history, or waiting in the incoming buffer).
 * Returns `true` when something changed; an unknown id or an identical hint changes nothing.
 * Throws `SdsError("E_INPUT_INVALID")` for an empty or oversized hint.
 */
export function setRetrievalHint(operation: Operation, messageId: string, hint: Uint8Array): boolean {
  if (!(hint instanceof Uint8Array) || hint.length === 0 || hint.length > RETRIEVAL_HINT_BYTES_MAX) {
    throw new SdsError("E_INPUT_INVALID", `a retrieval hint must be 1..${RETRIEVAL_HINT_BYTES_MAX} bytes`, { messageId, retrievalHintBytesMax: RETRIEVAL_HINT_BYTES_MAX });
  }
  const { state, delta } = operation;
  const copy = hint.slice();
  let changed = false;
  const record = state.history.get(messageId);
  if (record !== undefined && !sameBytes(record.entry.retrievalHint, copy)) {
    // A new entry object: entries are shared and the codec caches their bytes by identity.
    state.history.replaceEntry(messageId, { ...record.entry, retrievalHint: copy });
    delta.retrievalHints.set(messageId, copy);
    changed = true;
  }
  const waiting = state.incoming.get(messageId);
  if (waiting !== undefined && !sameBytes(waiting.data.retrievalHint, copy)) {
    waiting.data = { ...waiting.data, retrievalHint: copy };
    delta.incoming.upsert(messageId, waiting.data);
    changed = true;
  }
  return changed;
}
