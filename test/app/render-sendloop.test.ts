import { describe, expect, it } from "vitest";
import { checkOrder } from "../../src/app/demo.js";
import { formatMessage, messageRecord } from "../../src/app/render.js";
import { batches } from "../../src/app/send-loop.js";
import { nulShorthand } from "../../src/cli/flags.js";

const view = (payload: Uint8Array, extra: Partial<{ id: string; sender: string; dependencies: string[] }> = {}) => ({ id: extra.id ?? "aa", sender: extra.sender ?? "alice-1", lamport: 42n, dependencies: extra.dependencies ?? [], payload });

describe("render", () => {
  it("writes UTF-8 payloads as text and others as base64, lamport as a string", () => {
    expect(messageRecord(view(new TextEncoder().encode("héllo")))).toMatchObject({ encoding: "utf8", payload: "héllo", lamport: "42", bytes: 6 });
    expect(messageRecord(view(Uint8Array.of(0xff, 0x00)))).toMatchObject({ encoding: "base64", payloadBase64: "/wA=" });
  });

  it("formats each output mode", () => {
    expect(formatMessage(view(new TextEncoder().encode("hi")), "text")).toEqual({ data: "hi\n", notText: false });
    expect(formatMessage(view(Uint8Array.of(0xff)), "text")).toEqual({ data: "/w==\n", notText: true });
    expect(formatMessage(view(Uint8Array.of(1, 10)), "nul").data).toEqual(Buffer.from([1, 10, 0]));
    expect(formatMessage(view(new TextEncoder().encode("x")), "base64").data).toBe("eA==\n");
  });
});

describe("batches", () => {
  it("groups what is already available, never more than max, keeping order", async () => {
    async function* items() {
      for (let index = 0; index < 10; index += 1) yield index;
    }
    const out: number[][] = [];
    for await (const batch of batches(items(), 4, new AbortController().signal)) out.push(batch);
    expect(out.flat()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(Math.max(...out.map((batch) => batch.length))).toBeLessThanOrEqual(4);
  });

  it("does not wait for a slow producer to fill a batch", async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    async function* slow() {
      yield 1;
      await gate;
      yield 2;
    }
    const iterator = batches(slow(), 100, new AbortController().signal);
    expect((await iterator.next()).value).toEqual([1]);
    release();
    expect((await iterator.next()).value).toEqual([2]);
  });
});

describe("demo order check", () => {
  const payload = (text: string) => new TextEncoder().encode(text);
  it("accepts causal order and flags a message before its dependency, a duplicate and a gap", () => {
    const all = new Set(["a1", "a2", "b1"]);
    const good = [view(payload("alice #1"), { id: "a1" }), view(payload("alice #2"), { id: "a2", dependencies: ["a1"] })];
    expect(checkOrder({ name: "bob", delivered: good, ownIds: new Set(["b1"]) }, all)).toEqual({ outOfOrder: 0, missing: 0 });
    const early = [view(payload("alice #2"), { id: "a2", dependencies: ["a1"] }), view(payload("alice #1"), { id: "a1" })];
    expect(checkOrder({ name: "bob", delivered: early, ownIds: new Set(["b1"]) }, all).outOfOrder).toBeGreaterThan(0);
    expect(checkOrder({ name: "bob", delivered: [good[0]!], ownIds: new Set(["b1"]) }, all).missing).toBe(1);
    expect(checkOrder({ name: "bob", delivered: [...good, good[1]!], ownIds: new Set(["b1"]) }, all).outOfOrder).toBe(1);
  });
});

describe("nulShorthand", () => {
  it("rewrites -0 to --null before --", () => {
    expect(nulShorthand(["send", "x", "-0", "--", "-0"])).toEqual(["send", "x", "--null", "--", "-0"]);
  });
});
