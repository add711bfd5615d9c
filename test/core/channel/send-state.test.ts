import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { SdsError } from "../../../src/core/errors.js";
import { SendTracker, type SendEvent } from "../../../src/core/channel/send-state.js";

const kinds = (events: SendEvent[]): string[] => events.map((event) => event.kind);

describe("SendTracker", () => {
  it("reports sent when every segment is published and delivered when every one is acknowledged", () => {
    const tracker = new SendTracker();
    tracker.register("r1", ["m1", "m2", "m3"]);
    expect(tracker.requestOf("m2")).toBe("r1");
    expect(tracker.published("m1")).toEqual([]);
    expect(tracker.published("m3")).toEqual([]);
    expect(tracker.published("m2")).toEqual([{ kind: "sent", requestId: "r1", messageIds: ["m1", "m2", "m3"], final: false }]);
    expect(tracker.published("m2")).toEqual([]);
    expect(tracker.acknowledged("m1")).toEqual([]);
    expect(tracker.acknowledged("m2")).toEqual([]);
    expect(tracker.acknowledged("m3")).toEqual([{ kind: "delivered", requestId: "r1", messageIds: ["m1", "m2", "m3"] }]);
    expect(tracker.pendingCount).toBe(0);
    expect(tracker.requestOf("m1")).toBeUndefined();
    expect(tracker.acknowledged("m1")).toEqual([]);
  });

  it("counts an acknowledgement that arrives before the publish confirmation as published", () => {
    const tracker = new SendTracker();
    tracker.register("r", ["a", "b"]);
    expect(tracker.acknowledged("a")).toEqual([]);
    expect(kinds(tracker.published("b"))).toEqual(["sent"]);
    expect(kinds(tracker.acknowledged("b"))).toEqual(["delivered"]);
  });

  it("waits for every sibling before reporting undelivered", () => {
    const tracker = new SendTracker();
    tracker.register("r", ["a", "b", "c"]);
    for (const id of ["a", "b", "c"]) tracker.published(id);
    expect(tracker.undelivered("b")).toEqual([]);
    expect(tracker.acknowledged("a")).toEqual([]);
    expect(tracker.status("r")?.segments.map((segment) => segment.state)).toEqual(["acknowledged", "undelivered", "published"]);
    expect(tracker.acknowledged("c")).toEqual([{ kind: "undelivered", requestId: "r", messageIds: ["a", "b", "c"], undeliveredMessageIds: ["b"] }]);
    expect(tracker.status("r")).toBeUndefined();
  });

  it("reports publish failures without finalising, so a resend can still deliver", () => {
    const tracker = new SendTracker();
    tracker.register("r", ["a"]);
    const error = new SdsError("E_RELAY_UNAVAILABLE", "down");
    expect(tracker.publishFailed("a", error)).toEqual([{ kind: "send-error", requestId: "r", messageId: "a", error }]);
    expect(kinds(tracker.published("a"))).toEqual(["sent"]);
    expect(kinds(tracker.acknowledged("a"))).toEqual(["delivered"]);
    expect(tracker.publishFailed("a", error)).toEqual([]);
  });

  it("finishes ephemeral requests at sent", () => {
    const tracker = new SendTracker();
    tracker.register("e", ["x", "y"], { awaitAcknowledgement: false });
    tracker.published("x");
    expect(tracker.published("y")).toEqual([{ kind: "sent", requestId: "e", messageIds: ["x", "y"], final: true }]);
    expect(tracker.pendingCount).toBe(0);
  });

  it("abandons pending requests as undelivered and bounds the number tracked", () => {
    const tracker = new SendTracker({ requestsMax: 2 });
    tracker.register("r1", ["a"]);
    tracker.register("r2", ["b", "c"]);
    expect(() => tracker.register("r3", ["d"])).toThrow(expect.objectContaining({ code: "E_BUFFER_FULL" }));
    tracker.acknowledged("b");
    expect(tracker.abandonAll()).toEqual([
      { kind: "undelivered", requestId: "r1", messageIds: ["a"], undeliveredMessageIds: ["a"] },
      { kind: "undelivered", requestId: "r2", messageIds: ["b", "c"], undeliveredMessageIds: ["c"] },
    ]);
  });

  it("emits sent at most once, then exactly one final event, whatever the order (property)", () => {
    const op = fc.record({ segment: fc.nat({ max: 4 }), what: fc.constantFrom("published", "acknowledged", "undelivered") });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.array(op, { maxLength: 40 }), (count, ops) => {
        const tracker = new SendTracker();
        const ids = Array.from({ length: count }, (_, index) => `m${index}`);
        tracker.register("r", ids);
        const events: SendEvent[] = [];
        for (const { segment, what } of ops) {
          const id = ids[segment % count]!;
          events.push(...(what === "published" ? tracker.published(id) : what === "acknowledged" ? tracker.acknowledged(id) : tracker.undelivered(id)));
        }
        for (const id of ids) events.push(...tracker.acknowledged(id));
        const sentCount = events.filter((event) => event.kind === "sent").length;
        const finals = events.filter((event) => event.kind === "delivered" || event.kind === "undelivered");
        expect(sentCount).toBeLessThanOrEqual(1);
        expect(finals).toHaveLength(1);
        expect(events[events.length - 1]).toBe(finals[0]);
      }),
    );
  });
});
