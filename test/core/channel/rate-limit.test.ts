import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { SdsError } from "../../../src/core/errors.js";
import { EpochRateLimiter, RateLimitedQueue } from "../../../src/core/channel/rate-limit.js";

function clock(start: number): { now: () => number; set: (ms: number) => void } {
  let time = start;
  return { now: () => time, set: (ms) => (time = ms) };
}

describe("EpochRateLimiter", () => {
  it("admits messagesPerEpoch per epoch and names the next epoch start", () => {
    const time = clock(10_500);
    const limiter = new EpochRateLimiter({ epochPeriodMs: 1000, messagesPerEpoch: 2 }, time.now);
    expect(limiter.nextAllowedAtMs()).toBe(10_500);
    expect(limiter.tryAdmit()).toEqual({ admitted: true, remainingInEpoch: 1 });
    expect(limiter.tryAdmit()).toEqual({ admitted: true, remainingInEpoch: 0 });
    expect(limiter.tryAdmit()).toEqual({ admitted: false, retryAtMs: 11_000 });
    expect(limiter.nextAllowedAtMs()).toBe(11_000);
    expect(limiter.quota()).toEqual({ epochIndex: 10, used: 2, remaining: 0, limit: 2 });
    time.set(10_999);
    expect(limiter.tryAdmit().admitted).toBe(false);
    time.set(11_000);
    expect(limiter.tryAdmit()).toEqual({ admitted: true, remainingInEpoch: 1 });
  });

  it("never admits more than the limit in any epoch (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 10 }), fc.array(fc.integer({ min: 0, max: 3000 }), { maxLength: 200 }), (period, limit, steps) => {
        const time = clock(0);
        const limiter = new EpochRateLimiter({ epochPeriodMs: period, messagesPerEpoch: limit }, time.now);
        const perEpoch = new Map<number, number>();
        let now = 0;
        for (const step of steps) {
          now += step;
          time.set(now);
          const admission = limiter.tryAdmit();
          if (admission.admitted) perEpoch.set(Math.floor(now / period), (perEpoch.get(Math.floor(now / period)) ?? 0) + 1);
          else expect(admission.retryAtMs).toBe((Math.floor(now / period) + 1) * period);
        }
        for (const count of perEpoch.values()) expect(count).toBeLessThanOrEqual(limit);
      }),
    );
  });

  it("rejects nonsense configurations", () => {
    expect(() => new EpochRateLimiter({ epochPeriodMs: 0, messagesPerEpoch: 1 }, () => 0)).toThrow(SdsError);
    expect(() => new EpochRateLimiter({ epochPeriodMs: 10, messagesPerEpoch: 0 }, () => 0)).toThrow(SdsError);
  });
});

describe("RateLimitedQueue", () => {
  it("releases FIFO within budget and says when to come back", () => {
    const time = clock(0);
    const queue = new RateLimitedQueue<string>(new EpochRateLimiter({ epochPeriodMs: 100, messagesPerEpoch: 2 }, time.now), 3);
    queue.push("a");
    queue.push("b");
    queue.push("c");
    expect(() => queue.push("d")).toThrow(expect.objectContaining({ code: "E_BUFFER_FULL" }));
    expect(queue.drain()).toEqual({ released: ["a", "b"], nextAtMs: 100 });
    expect(queue.drain()).toEqual({ released: [], nextAtMs: 100 });
    time.set(100);
    expect(queue.drain()).toEqual({ released: ["c"], nextAtMs: undefined });
    expect(queue.length).toBe(0);
  });
});
