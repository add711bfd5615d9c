/**
 * OutgoingIndex finds our pending message from a wire the engine publishes again: the same
 * array (no hashing), or an array with the same bytes (a channel reloaded from the store),
 * and forgets both ways once the request ends.
 */
import { describe, expect, it } from "vitest";
import { OutgoingIndex } from "../../../src/core/channel/outgoing-index.js";

const wireOf = (seed: number, length = 2_000): Uint8Array => Uint8Array.from({ length }, (_, index) => (index * 31 + seed * 17) & 0xff);

describe("OutgoingIndex", () => {
  it("maps the same array and a byte-identical copy to the message; other bytes to nothing", () => {
    const index = new OutgoingIndex();
    const first = wireOf(1);
    const second = wireOf(2);
    index.add("m1", first);
    index.add("m2", second);
    expect(index.messageOf(first)).toBe("m1");
    expect(index.messageOf(Uint8Array.from(second))).toBe("m2");
    expect(index.messageOf(Uint8Array.from(first))).toBe("m1");
    expect(index.messageOf(wireOf(3))).toBeUndefined();
    // An entry added after a lookup by bytes is found by bytes too.
    const third = wireOf(4);
    index.add("m3", third);
    expect(index.messageOf(Uint8Array.from(third))).toBe("m3");
  });

  it("forgets a finished request's wires by array and by bytes, and keeps its outcome", () => {
    const index = new OutgoingIndex();
    const wire = wireOf(5);
    const other = wireOf(6);
    index.add("m1", wire);
    index.add("m2", other);
    expect(index.messageOf(Uint8Array.from(wire))).toBe("m1");
    index.finish("r1", ["m1"], "delivered");
    expect(index.messageOf(wire)).toBeUndefined();
    expect(index.messageOf(Uint8Array.from(wire))).toBeUndefined();
    expect(index.messageOf(Uint8Array.from(other))).toBe("m2");
    expect(index.outcomeOf("r1")).toBe("delivered");
  });
});
