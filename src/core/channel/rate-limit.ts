/**
 * Epoch-based rate limiting of first transmissions (research/reliable-channel.md §3.1): a fixed
 * window per epoch, `epochIndex = floor(nowMs / epochPeriodMs)` (the wall-clock derivation RLN
 * uses), at most `messagesPerEpoch` admissions per epoch, rolled lazily when the index changes.
 * Every segment counts; resends and repairs are not charged (logos-delivery charges a task once).
 * No timers inside: callers ask when the next admission is possible and schedule themselves.
 * A bounded FIFO holds what waits for budget. Pure: time comes from the injected `now`.
 */
import { SdsError } from "../errors.js";

/** Configuration of an {@link EpochRateLimiter}. */
export interface RateLimitConfig {
  /** Epoch length in ms (logos-delivery default 600 000). */
  epochPeriodMs: number;
  /** Admissions allowed per epoch (logos-delivery default 1, which #4054 calls too strict). */
  messagesPerEpoch: number;
}

/** Result of {@link EpochRateLimiter.tryAdmit}. */
export type Admission = { admitted: true; remainingInEpoch: number } | { admitted: false; retryAtMs: number };

/** Budget of the current epoch. */
export interface EpochQuota {
  epochIndex: number;
  used: number;
  remaining: number;
  limit: number;
}

/** Counts admissions per fixed epoch; never sleeps, never schedules. */
export class EpochRateLimiter {
  private epochIndex = Number.NEGATIVE_INFINITY;
  private used = 0;

  constructor(
    readonly config: RateLimitConfig,
    private readonly now: () => number,
  ) {
    if (!Number.isSafeInteger(config.epochPeriodMs) || config.epochPeriodMs <= 0) {
      throw new SdsError("E_CONFIG_INVALID", `epochPeriodMs must be a positive integer, got ${config.epochPeriodMs}`);
    }
    if (!Number.isSafeInteger(config.messagesPerEpoch) || config.messagesPerEpoch <= 0) {
      throw new SdsError("E_CONFIG_INVALID", `messagesPerEpoch must be a positive integer, got ${config.messagesPerEpoch}`);
    }
  }

  private roll(): number {
    const nowMs = this.now();
    const index = Math.floor(nowMs / this.config.epochPeriodMs);
    if (index !== this.epochIndex) {
      this.epochIndex = index;
      this.used = 0;
    }
    return nowMs;
  }

  /** Charges one admission if the epoch has budget; otherwise says when the next epoch starts. */
  tryAdmit(): Admission {
    this.roll();
    if (this.used >= this.config.messagesPerEpoch) return { admitted: false, retryAtMs: (this.epochIndex + 1) * this.config.epochPeriodMs };
    this.used += 1;
    return { admitted: true, remainingInEpoch: this.config.messagesPerEpoch - this.used };
  }

  /** Earliest time (ms) an admission can succeed: now when budget is left, else the next epoch start. */
  nextAllowedAtMs(): number {
    const nowMs = this.roll();
    return this.used < this.config.messagesPerEpoch ? nowMs : (this.epochIndex + 1) * this.config.epochPeriodMs;
  }

  /** Budget of the current epoch. */
  quota(): EpochQuota {
    this.roll();
    return { epochIndex: this.epochIndex, used: this.used, remaining: this.config.messagesPerEpoch - this.used, limit: this.config.messagesPerEpoch };
  }
}

/** A FIFO of items waiting for rate-limit budget, bounded by `queuedMax`. */
export class RateLimitedQueue<T> {
  private readonly items: T[] = [];

  constructor(
    private readonly limiter: EpochRateLimiter,
    /** Most items waiting at once; beyond it {@link push} fails with `E_BUFFER_FULL`. */
    readonly queuedMax: number,
  ) {
    if (!Number.isSafeInteger(queuedMax) || queuedMax <= 0) throw new SdsError("E_CONFIG_INVALID", `queuedMax must be a positive integer, got ${queuedMax}`);
  }

  /** Items waiting. */
  get length(): number {
    return this.items.length;
  }

  /** Room left before {@link push} fails. */
  get free(): number {
    return this.queuedMax - this.items.length;
  }

  /** Appends `item`; throws `E_BUFFER_FULL` when `queuedMax` items already wait. */
  push(item: T): void {
    if (this.items.length >= this.queuedMax) {
      throw new SdsError("E_BUFFER_FULL", `rate-limit queue holds ${this.queuedMax} items already`, { queuedMax: this.queuedMax });
    }
    this.items.push(item);
  }

  /**
   * Removes and returns, in FIFO order, as many items as the current epoch admits; `nextAtMs`
   * is when to call again (undefined when the queue is empty).
   */
  drain(): { released: T[]; nextAtMs: number | undefined } {
    const released: T[] = [];
    while (this.items.length > 0) {
      const admission = this.limiter.tryAdmit();
      if (!admission.admitted) return { released, nextAtMs: admission.retryAtMs };
      released.push(this.items.shift() as T);
    }
    return { released, nextAtMs: undefined };
  }
}
