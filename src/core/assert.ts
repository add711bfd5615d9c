/**
 * Assertions for broken invariants: bugs, not bad input. A failed assertion throws an
 * `AssertionError` that the CLI reports as an internal error (exit 1). Never use these for
 * anything a peer or a user can cause; those are typed `SdsError`s.
 */

/** Thrown when an invariant of the toolkit itself does not hold. */
export class AssertionError extends Error {
  constructor(message: string) {
    super(`invariant violated: ${message}`);
    this.name = "AssertionError";
  }
}

/** Crashes with `message` unless `condition` holds. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** Marks a branch that the type system says cannot be reached. */
export function unreachable(value: never, message = "unreachable"): never {
  throw new AssertionError(`${message}: ${String(value)}`);
}
