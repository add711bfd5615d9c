/**
 * Decode limits for SDS wire messages. Every decoder takes them explicitly so that hostile
 * or corrupt input cannot make it allocate or loop without bound: the whole blob is checked
 * against `wireBytesMax` before any parsing, and counts and lengths are checked while
 * parsing, at the byte where they are read. Exceeding a limit is a `DecodeError` with code
 * `E_DECODE_LIMIT`, the field, the byte offset and the limit in `details`.
 */
import { DecodeError } from "../../errors.js";

/** Upper bounds a decoder enforces; every unit is in the name. */
export interface DecodeLimits {
  /** Largest whole encoded message accepted, in bytes. */
  wireBytesMax: number;
  /** Most `causal_history` entries in one message. */
  causalHistoryEntriesMax: number;
  /** Most `repair_request` entries in one message. */
  repairRequestEntriesMax: number;
  /** Longest id string (message, channel, sender ids) in UTF-8 bytes. */
  idBytesMax: number;
  /** Longest `retrieval_hint`, in bytes. */
  retrievalHintBytesMax: number;
  /** Longest serialized `bloom_filter` field, in bytes (dialect framing included). */
  bloomBytesMax: number;
  /** Longest `content`, in bytes. */
  contentBytesMax: number;
}

/**
 * Defaults sized well above what both implementations send: a default bloom filter is
 * 18,752 bytes (spec) or 18,768 (nim; 22,520 after the first rolling clean), nim caps
 * content at 1 MiB, js keeps 200 causal entries, both attach at most 3 repair requests.
 */
export const DEFAULT_DECODE_LIMITS: Readonly<DecodeLimits> = Object.freeze({
  wireBytesMax: 4 * 1024 * 1024,
  causalHistoryEntriesMax: 1024,
  repairRequestEntriesMax: 256,
  idBytesMax: 1024,
  retrievalHintBytesMax: 1024,
  bloomBytesMax: 1024 * 1024,
  contentBytesMax: 4 * 1024 * 1024,
});

/** Fills in defaults for the limits a caller did not set, and checks the ones it did. */
export function resolveLimits(partial: Partial<DecodeLimits> | undefined): DecodeLimits {
  // the frozen, already valid defaults: no copy and no check on every decode
  if (partial === undefined) return DEFAULT_DECODE_LIMITS;
  const limits: DecodeLimits = { ...DEFAULT_DECODE_LIMITS, ...(partial ?? {}) };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`decode limit ${name} must be a non-negative integer, got ${String(value)}`);
  }
  return limits;
}

/** Throws `E_DECODE_LIMIT` when `actual > max`. */
export function checkLimit(limitName: keyof DecodeLimits, actual: number, max: number, where: { field: string; offset: number }): void {
  if (actual > max) {
    throw new DecodeError("E_DECODE_LIMIT", `${where.field} is ${actual}, above ${limitName} = ${max}`, where, { limit: limitName, max, actual });
  }
}
