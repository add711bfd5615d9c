/**
 * Answers a STORE_QUERY from the relay's bounded store: by message hashes (retrieval hints) or
 * by store time with a cursor, within the query limit and within one frame's bytes
 * (docs/relay-protocol.md). Pure over the store: rate limiting and sending stay in the server.
 */
import type { FrameOf } from "./protocol.js";
import type { RelayStore, StoredMessage } from "./relay-store.js";

/** Bytes of a STORE_RESPONSE kept free for everything but the envelopes. */
const RESPONSE_OVERHEAD_BYTES = 4096;
/** Entries a query without a limit gets (capped by the relay's maximum). */
const DEFAULT_QUERY_LIMIT = 100;
/** Bytes of the paging cursor: the last store time, uint64 big-endian. */
const CURSOR_BYTES = 8;
/** Per-entry framing counted beside its envelope when filling a hash query's response. */
const ENTRY_OVERHEAD_BYTES = 64;

const EMPTY = new Uint8Array(0);

/** Limits of a store query answer. */
export interface StoreQueryLimits {
  /** Largest frame the relay sends (the response must fit). */
  frameBytesMax: number;
  /** Most entries one answer holds. */
  storeQueryLimitMax: number;
}

/** The STORE_RESPONSE to `query` (`code` set for a bad cursor). */
export function answerStoreQuery(store: RelayStore, query: FrameOf<"storeQuery">, limits: StoreQueryLimits): FrameOf<"storeResponse"> {
  const respond = (entries: readonly StoredMessage[], nextCursor: Uint8Array, code = "", reason = ""): FrameOf<"storeResponse"> => ({
    type: "storeResponse",
    requestId: query.requestId,
    entries: entries.map((message) => ({ hash: message.hash, envelope: message.envelope, storedAtNs: message.storedAtNs })),
    nextCursor,
    code,
    reason,
  });
  const bytesMax = limits.frameBytesMax - RESPONSE_OVERHEAD_BYTES;
  if (query.hashes.length > 0) {
    const fitting: StoredMessage[] = [];
    let bytes = 0;
    for (const message of store.byHashes(query.topic, query.hashes)) {
      if (fitting.length > 0 && bytes + message.envelope.length > bytesMax) break;
      fitting.push(message);
      bytes += message.envelope.length + ENTRY_OVERHEAD_BYTES;
    }
    return respond(fitting, EMPTY);
  }
  const cursor = query.cursor;
  if (cursor.length !== 0 && cursor.length !== CURSOR_BYTES) return respond([], EMPTY, "E_INPUT_INVALID", "cursor must be the 8 bytes the relay returned");
  const afterNs = cursor.length === CURSOR_BYTES ? new DataView(cursor.buffer, cursor.byteOffset, CURSOR_BYTES).getBigUint64(0, false) : undefined;
  const limit = query.limit === 0 ? Math.min(DEFAULT_QUERY_LIMIT, limits.storeQueryLimitMax) : Math.min(query.limit, limits.storeQueryLimitMax);
  const page = store.since(query.topic, query.sinceTimestampNs, limit, { afterNs, bytesMax });
  const nextCursor = new Uint8Array(page.nextAfterNs === undefined ? 0 : CURSOR_BYTES);
  if (page.nextAfterNs !== undefined) new DataView(nextCursor.buffer).setBigUint64(0, page.nextAfterNs, false);
  return respond(page.messages, nextCursor);
}
