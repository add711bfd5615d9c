/**
 * IngressBatcher: wires that arrive in one round of I/O callbacks reach the engine as ONE
 * receiveBatch call in arrival order, each caller gets its own result or error, more than
 * INGRESS_BATCH_MAX wires split into several calls, and an engine without receiveBatch gets
 * one receive per wire. WorkLane.idle waits for the scheduled flush too.
 */
import { describe, expect, it } from "vitest";
import { SdsError } from "../../../src/core/errors.js";
import { INGRESS_BATCH_MAX, IngressBatcher, type ReceiveOutcome } from "../../../src/core/channel/ingress-batch.js";
import type { ReliabilityEngine } from "../../../src/core/channel/options.js";
import { WorkLane } from "../../../src/core/channel/work-lane.js";

const outcomeFor = (wire: Uint8Array): ReceiveOutcome => ({ channelId: "c", messageId: `m${wire[0]}`, duplicate: false, delivered: [], missing: [], acknowledged: [] });

function fakeEngine(batched: boolean) {
  const calls: number[][] = [];
  const engine: ReliabilityEngine = {
    send: () => Promise.reject(new Error("not used")),
    tick: () => Promise.reject(new Error("not used")),
    receive: async (wire) => {
      calls.push([wire[0]!]);
      return outcomeFor(wire);
    },
    ...(batched
      ? {
          receiveBatch: async (_channelId: string, items: ReadonlyArray<{ wire: Uint8Array }>) => {
            calls.push(items.map((item) => item.wire[0]!));
            return items.map((item) => (item.wire[0] === 13 ? { error: new SdsError("E_DECODE_TRUNCATED", "bad wire") } : outcomeFor(item.wire)));
          },
        }
      : {}),
  } as ReliabilityEngine;
  return { engine, calls };
}

describe("IngressBatcher", () => {
  it("gathers wires received in one round into one ordered receiveBatch call; a bad wire fails alone", async () => {
    const { engine, calls } = fakeEngine(true);
    const work = new WorkLane();
    const batcher = new IngressBatcher(engine, "c", work);
    const results = [1, 2, 13, 4].map((n) => batcher.receive(Uint8Array.of(n), Uint8Array.of(0)).then((r) => r.messageId, (e: unknown) => (e as SdsError).code));
    await work.idle();
    expect(await Promise.all(results)).toEqual(["m1", "m2", "E_DECODE_TRUNCATED", "m4"]);
    expect(calls).toEqual([[1, 2, 13, 4]]);
  });

  it(`splits more than ${INGRESS_BATCH_MAX} waiting wires into several calls, in order`, async () => {
    const { engine, calls } = fakeEngine(true);
    const work = new WorkLane();
    const batcher = new IngressBatcher(engine, "c", work);
    const count = INGRESS_BATCH_MAX + 10;
    const results = Array.from({ length: count }, (_, i) => batcher.receive(Uint8Array.of(i % 251 === 13 ? 14 : i % 251), Uint8Array.of(0)));
    await work.idle();
    await Promise.all(results);
    expect(calls.map((call) => call.length)).toEqual([INGRESS_BATCH_MAX, 10]);
  });

  it("calls receive once per wire when the engine has no receiveBatch", async () => {
    const { engine, calls } = fakeEngine(false);
    const work = new WorkLane();
    const batcher = new IngressBatcher(engine, "c", work);
    const results = await Promise.all([5, 6].map((n) => batcher.receive(Uint8Array.of(n), Uint8Array.of(0))));
    expect(results.map((r) => r.messageId)).toEqual(["m5", "m6"]);
    expect(calls).toEqual([[5], [6]]);
  });
});
