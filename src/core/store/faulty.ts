/**
 * A fault-injecting wrapper around any {@link Persistence}, in the style of nim-sds's
 * in-memory test backend (`failingOps`): make chosen operations fail, fail the Nth call,
 * fail from the Nth call on, or fail with a probability drawn from a seeded PRNG (so a
 * failing run replays exactly). A fault either leaves the store untouched (`"lost"`, the
 * write never happened) or applies the write and still reports failure (`"applied"`, the
 * reply was lost) — the two outcomes a driver's policy must survive.
 */
import { type ErrorCode, type Result, StoreError, err } from "../errors.js";
import type { ChannelData, ChannelDelta, ChannelMeta, HistoryUpdate, Persistence } from "./contract.js";
import { seededRandom } from "../random.js";

/** Names of the operations that can be made to fail. */
export type PersistenceOp = "commit" | "saveChannelMeta" | "updateHistory" | "loadChannel" | "dropChannel" | "setRetrievalHint" | "listChannels";

/** What a fault does to the write it hits. */
export type FaultOutcome = "lost" | "applied";

/** Fault plan of a {@link FaultyPersistence}; all fields optional and combinable. */
export interface FaultPlan {
  /** Operations that always fail (nim `failingOps`). */
  failingOps?: Iterable<PersistenceOp>;
  /** 1-based call numbers (counted over the ops in `countedOps`) that fail once each. */
  failCalls?: Iterable<number>;
  /** Every counted call from this 1-based number on fails (a persistent fault). */
  failFromCall?: number;
  /** Probability in [0, 1] that a counted call fails (uses `seed`). */
  probability?: number;
  /** Seed of the PRNG behind `probability` (default 1). */
  seed?: number;
  /** Ops that count as calls for `failCalls`/`failFromCall`/`probability` (default: every op). */
  countedOps?: Iterable<PersistenceOp>;
  /** What a failed write does (default `"lost"`). Reads always fail without effect. */
  outcome?: FaultOutcome;
  /** Error code of injected failures (default `E_STORE_IO`). */
  code?: ErrorCode;
}

/** One injected fault, for tests to assert on. */
export interface InjectedFault {
  op: PersistenceOp;
  call: number;
  outcome: FaultOutcome;
}

/** Re-exported where it was first defined, for existing importers. */
export { seededRandom };

const READS: ReadonlySet<PersistenceOp> = new Set(["loadChannel", "listChannels"]);

/** Wraps `inner` and fails calls according to a {@link FaultPlan}; change the plan at any time with {@link setPlan}. */
export class FaultyPersistence implements Persistence {
  /** Every fault injected so far, in order. */
  readonly injected: InjectedFault[] = [];
  /** Counted calls so far. */
  calls = 0;
  private plan: Required<Pick<FaultPlan, "outcome" | "code">> & { failingOps: Set<PersistenceOp>; failCalls: Set<number>; countedOps: Set<PersistenceOp> | undefined; failFromCall: number | undefined; probability: number };
  private random: () => number;

  constructor(
    readonly inner: Persistence,
    plan: FaultPlan = {},
  ) {
    this.plan = FaultyPersistence.resolve(plan);
    this.random = seededRandom(plan.seed ?? 1);
  }

  private static resolve(plan: FaultPlan) {
    return {
      failingOps: new Set(plan.failingOps ?? []),
      failCalls: new Set(plan.failCalls ?? []),
      countedOps: plan.countedOps === undefined ? undefined : new Set(plan.countedOps),
      failFromCall: plan.failFromCall,
      probability: plan.probability ?? 0,
      outcome: plan.outcome ?? "lost",
      code: plan.code ?? "E_STORE_IO",
    };
  }

  /** Replaces the fault plan (the call counter and PRNG keep going unless `seed` is given). */
  setPlan(plan: FaultPlan): void {
    this.plan = FaultyPersistence.resolve(plan);
    if (plan.seed !== undefined) this.random = seededRandom(plan.seed);
  }

  /** Stops injecting faults (a transient fault clears). */
  heal(): void {
    this.setPlan({});
  }

  private decide(op: PersistenceOp): boolean {
    const counted = this.plan.countedOps === undefined || this.plan.countedOps.has(op);
    let fail = this.plan.failingOps.has(op);
    if (counted) {
      this.calls += 1;
      if (this.plan.failCalls.has(this.calls)) fail = true;
      if (this.plan.failFromCall !== undefined && this.calls >= this.plan.failFromCall) fail = true;
      if (this.plan.probability > 0 && this.random() < this.plan.probability) fail = true;
    }
    return fail;
  }

  private async wrap<T>(op: PersistenceOp, call: () => Promise<Result<T>>): Promise<Result<T>> {
    if (!this.decide(op)) return call();
    const outcome: FaultOutcome = READS.has(op) ? "lost" : this.plan.outcome;
    this.injected.push({ op, call: this.calls, outcome });
    if (outcome === "applied") await call();
    return err(new StoreError(this.plan.code, `injected fault: ${op} failed (call ${this.calls}, write ${outcome})`, { op, call: this.calls, outcome, injected: true }));
  }

  commit(deltas: readonly ChannelDelta[]): Promise<Result<void>> {
    return this.wrap("commit", () => this.inner.commit(deltas));
  }
  saveChannelMeta(channelId: string, meta: ChannelMeta): Promise<Result<void>> {
    return this.wrap("saveChannelMeta", () => this.inner.saveChannelMeta(channelId, meta));
  }
  updateHistory(channelId: string, update: HistoryUpdate): Promise<Result<void>> {
    return this.wrap("updateHistory", () => this.inner.updateHistory(channelId, update));
  }
  loadChannel(channelId: string): Promise<Result<ChannelData | undefined>> {
    return this.wrap("loadChannel", () => this.inner.loadChannel(channelId));
  }
  dropChannel(channelId: string): Promise<Result<void>> {
    return this.wrap("dropChannel", () => this.inner.dropChannel(channelId));
  }
  setRetrievalHint(channelId: string, messageId: string, hint: Uint8Array): Promise<Result<void>> {
    return this.wrap("setRetrievalHint", () => this.inner.setRetrievalHint(channelId, messageId, hint));
  }
  listChannels(): Promise<Result<string[]>> {
    return this.wrap("listChannels", () => this.inner.listChannels());
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
