/**
 * How a Reliable Channel orders and accounts for its asynchronous work. Engine operations run
 * one at a time in call order (the lane), so segments and deliveries keep their order; every
 * other promise (publishes, scheduled flushes, ticks) is tracked so that `idle` can wait until
 * nothing is left, including work that started while it was waiting.
 */

/** A one-at-a-time lane for engine calls plus a set of tracked background promises. */
export class WorkLane {
  private lane: Promise<unknown> = Promise.resolve();
  private readonly inFlight = new Set<Promise<unknown>>();

  /** Runs `run` after every operation queued before it; a failure rejects this call only, never the lane. */
  run<T>(run: () => Promise<T>): Promise<T> {
    const next = this.lane.then(run);
    this.lane = next.catch(() => undefined);
    return next;
  }

  /** Counts `promise` as work in progress until it settles (its rejection is not observed here). */
  track(promise: Promise<unknown>): void {
    const settled = promise.catch(() => undefined).finally(() => this.inFlight.delete(settled));
    this.inFlight.add(settled);
  }

  /** Resolves once the lane and every tracked promise have settled, and no new work arrived meanwhile. */
  async idle(): Promise<void> {
    for (;;) {
      const pending = [this.lane, ...this.inFlight];
      await Promise.allSettled(pending);
      if (this.inFlight.size === 0 && pending[0] === this.lane) return;
    }
  }
}
