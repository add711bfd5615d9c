/**
 * Invariant violations of one run. A violation names its invariant (S1–S13, L1–L4, D1), says
 * what happened, and points at the history event where it was detected, so a replay can print
 * the events around it. Some are "measured" rather than failures: the best-effort persistence
 * policy is allowed sender amnesia and duplicate delivery after a restart, which the campaign
 * reports instead of failing.
 */
import type { History } from "./history.js";

/** Invariant ids of reliability.md §5.2. */
export type InvariantId =
  | "S1" | "S2" | "S3" | "S4" | "S5" | "S6" | "S7" | "S8" | "S9" | "S10" | "S11" | "S12" | "S13"
  | "L1" | "L2" | "L3" | "L4" | "D1";

/** One detected violation. */
export interface Violation {
  invariant: InvariantId;
  message: string;
  /** History index at detection (the latest event then). */
  eventIndex: number;
  /** Virtual ms at detection. */
  atMs: number;
  /** `true` when the policy allows it and it is only counted. */
  measuredOnly: boolean;
}

/** Collects violations of one run, in detection order. */
export class Violations {
  readonly list: Violation[] = [];

  constructor(private readonly history: History, private readonly now: () => number) {}

  /** Reports a violation detected now. `measuredOnly` for the policy-allowed kinds. */
  report(invariant: InvariantId, message: string, measuredOnly = false, eventIndex?: number): void {
    this.list.push({ invariant, message, eventIndex: eventIndex ?? this.history.length - 1, atMs: this.now(), measuredOnly });
  }

  /** Violations that fail the run. */
  get failures(): Violation[] {
    return this.list.filter((violation) => !violation.measuredOnly);
  }

  /** The first failing violation, by detection order. */
  get first(): Violation | undefined {
    return this.failures[0];
  }
}
