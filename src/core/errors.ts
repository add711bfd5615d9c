/**
 * Typed, expected failures of the toolkit (bad input, a dead peer, a locked or full
 * database). Each carries a stable string `code`; the CLI maps the code's *class* to an
 * exit status in one table (`src/cli/exit-codes.ts`). Broken invariants are not errors
 * of this kind: they go through `assert` (`./assert.ts`) and crash.
 *
 * ```ts
 * throw new DecodeError("E_DECODE_TRUNCATED", "varint runs past the end", { field: "lamportTimestamp", offset: 17 });
 * ```
 */

/** What kind of failure a code is; decides the exit status. */
export type ErrorClass = "usage" | "input" | "check" | "relay" | "store" | "internal";

/**
 * Every stable error code and its class. Add new codes here (one line each) so the
 * exit-code table stays complete; `docs/cli.md` lists them for users.
 */
export const ERROR_CODES = {
  // usage: the call itself is wrong
  E_USAGE: "usage",
  E_CONFIG_INVALID: "usage",
  // input: bytes or data given to us are bad
  E_INPUT_INVALID: "input",
  E_INPUT_FORMAT: "input",
  E_DECODE_TRUNCATED: "input",
  E_DECODE_WIRE_TYPE: "input",
  E_DECODE_VARINT: "input",
  E_DECODE_MISSING_FIELD: "input",
  E_DECODE_LIMIT: "input",
  E_DECODE_UTF8: "input",
  E_DECODE_INVALID: "input",
  E_DECODE_DIALECT: "input",
  E_BLOOM_PARAMS: "input",
  E_SNAPSHOT_VERSION: "input",
  E_SEGMENT_INVALID: "input",
  E_DECRYPT_FAILED: "input",
  E_PAYLOAD_TOO_LARGE: "input",
  E_PAYLOAD_EMPTY: "input",
  // check: an inspection or a confirmation did not pass
  E_CHECK_FAILED: "check",
  E_NOT_CONFIRMED: "check",
  E_TIMEOUT: "check",
  // relay: the relay or the network is unavailable
  E_RELAY_UNAVAILABLE: "relay",
  E_RELAY_REJECTED: "relay",
  E_RELAY_CLOSED: "relay",
  E_RELAY_SLOW_CONSUMER: "relay",
  E_RELAY_RATE_LIMITED: "relay",
  // store: the database is unusable as asked
  E_STORE_LOCKED: "store",
  E_STORE_BUSY: "store",
  E_STORE_FULL: "store",
  E_STORE_READONLY: "store",
  E_STORE_CORRUPT: "store",
  E_STORE_VERSION: "store",
  E_STORE_IO: "store",
  E_STORE_NOT_FOUND: "store",
  // protocol: the engine refused an operation it could not do safely
  E_CHANNEL_UNKNOWN: "input",
  E_BUFFER_FULL: "input",
  // internal
  E_INTERNAL: "internal",
} as const satisfies Record<string, ErrorClass>;

/** A stable error code (see {@link ERROR_CODES}). */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Base class of every typed error the toolkit throws or returns. */
export class SdsError extends Error {
  /** Stable machine-readable code; never reworded. */
  readonly code: ErrorCode;
  /** Extra facts for `--json` output and logs (field names, offsets, limits). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SdsError";
    this.code = code;
    this.details = details;
  }

  /** The class of this error's code, which picks the exit status. */
  get errorClass(): ErrorClass {
    return ERROR_CODES[this.code];
  }
}

/**
 * A wire blob (SDS message, bloom filter, envelope, segment, snapshot) that could not be
 * decoded. Names the field being read and the byte offset where reading failed, so a user
 * can find the bad byte in a hex dump.
 */
export class DecodeError extends SdsError {
  /** Name of the field being decoded when it failed (`"causalHistory[2].messageId"`). */
  readonly field: string;
  /** Byte offset into the outermost input where the failure was detected. */
  readonly offset: number;

  constructor(code: ErrorCode, message: string, where: { field: string; offset: number }, details: Record<string, unknown> = {}) {
    super(code, `${message} (field ${where.field}, byte ${where.offset})`, { ...details, field: where.field, offset: where.offset });
    this.name = "DecodeError";
    this.field = where.field;
    this.offset = where.offset;
  }
}

/** A persistence failure: locked, busy, full, read-only, corrupt or wrong-version database. */
export class StoreError extends SdsError {
  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(code, message, details, options);
    this.name = "StoreError";
  }
}

/** The relay could not be reached, refused us, or dropped us. */
export class RelayError extends SdsError {
  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(code, message, details, options);
    this.name = "RelayError";
  }
}

/** True when `value` is one of the toolkit's typed errors. */
export function isSdsError(value: unknown): value is SdsError {
  return value instanceof SdsError;
}

/**
 * A result for operations that must never throw (the persistence contract follows nim-sds,
 * whose procs return `Result[T, string]`): either a value, or a typed error.
 */
export type Result<T, E extends SdsError = SdsError> = { ok: true; value: T } | { ok: false; error: E };

/** Wraps a value as a successful {@link Result}. */
export function ok<T>(value: T): Result<T, never> {
  return { ok: true, value };
}

/** Wraps a typed error as a failed {@link Result}. */
export function err<E extends SdsError>(error: E): Result<never, E> {
  return { ok: false, error };
}
