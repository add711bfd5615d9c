import { describe, expect, it } from "vitest";
import { MissingDependencies } from "../../../src/core/channel/missing.js";
import { ChannelEvents } from "../../../src/core/channel/events.js";

const hint = (byte: number): Uint8Array => new Uint8Array(32).fill(byte);

describe("MissingDependencies", () => {
  it("asks for a hint at once, again only after fetchRetryMs, and stops once resolved", () => {
    const missing = new MissingDependencies(1000, 10);
    missing.report([{ messageId: "a", retrievalHint: hint(1) }, { messageId: "b" }], 0, 5n);
    expect(missing.due(0)).toEqual([hint(1)]);
    expect(missing.due(999)).toEqual([]);
    expect(missing.due(1000)).toEqual([hint(1)]);
    missing.report([{ messageId: "b", retrievalHint: hint(2) }], 1200);
    expect(missing.due(1200)).toEqual([hint(2)]);
    missing.resolve(["a", "b"]);
    expect(missing.due(5000)).toEqual([]);
    expect(missing.size).toBe(0);
  });

  it("asks for a time range when a dependency has no hint, from the earliest dependent minus the lookback", () => {
    const missing = new MissingDependencies(1000, 10);
    missing.report([{ messageId: "x" }], 0, 10_000_000_000n);
    missing.report([{ messageId: "x" }], 10, 9_000_000_000n);
    expect(missing.gapSince(999, 2000)).toBeUndefined();
    expect(missing.gapSince(1000, 2000)).toBe(7_000_000_000n);
    expect(missing.gapSince(1500, 2000)).toBeUndefined(); // once per fetchRetryMs
    expect(missing.gapSince(2000, 1_000_000)).toBe(0n); // clamped at zero
    missing.resolve(["x"]);
    expect(missing.gapSince(5000, 2000)).toBeUndefined();
  });

  it("forgets the oldest entries beyond entriesMax", () => {
    const missing = new MissingDependencies(1000, 2);
    missing.report([1, 2, 3].map((index) => ({ messageId: `m${index}`, retrievalHint: hint(index) })), 0);
    expect(missing.size).toBe(2);
    expect(missing.due(0)).toEqual([hint(2), hint(3)]);
  });
});

describe("ChannelEvents", () => {
  it("isolates a throwing listener and keeps calling the others", () => {
    const caught: unknown[] = [];
    const events = new ChannelEvents((error) => caught.push(error));
    const seen: string[] = [];
    events.on("dropped", () => {
      throw new Error("listener bug");
    });
    const stop = events.on("dropped", (event) => seen.push(event.reason));
    events.emit("dropped", { reason: "bad-meta", detail: "x" });
    stop();
    events.emit("dropped", { reason: "bad-meta", detail: "y" });
    expect(seen).toEqual(["bad-meta"]);
    expect(caught).toHaveLength(2);
    expect(events.has("dropped")).toBe(true);
    expect(events.has("sent")).toBe(false);
  });
});
