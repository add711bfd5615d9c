/**
 * The one table from failures to exit statuses. Documented in docs/cli.md; scripts rely
 * on these numbers, so they never change meaning.
 */
import { type ErrorClass, isSdsError } from "../core/errors.js";

/** Documented exit statuses of `sds`. */
export const EXIT = {
  ok: 0,
  internal: 1,
  usage: 2,
  badInput: 3,
  checkFailed: 4,
  relayUnavailable: 5,
  sigint: 130,
  sigterm: 143,
} as const;

const BY_CLASS: Record<ErrorClass, number> = {
  usage: EXIT.usage,
  input: EXIT.badInput,
  check: EXIT.checkFailed,
  relay: EXIT.relayUnavailable,
  // A database that is locked, full, corrupt or of another version is bad input to the
  // command (the file), not a bug: same status as bad data.
  store: EXIT.badInput,
  internal: EXIT.internal,
};

/** Exit status for any thrown value: typed errors by class, anything else is internal. */
export function exitCodeFor(error: unknown): number {
  if (isSdsError(error)) return BY_CLASS[error.errorClass];
  return EXIT.internal;
}
