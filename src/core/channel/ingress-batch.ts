/**
 * Batched receive for a Reliable Channel: envelopes that arrive while the engine lane is busy
 * are gathered and handed to the engine's `receiveBatch` together, one engine call (one store
 * commit) per {@link INGRESS_BATCH_MAX}, in arrival order, and each caller still gets its own
 * result or error. Engines without `receiveBatch` get one `receive` per envelope.
 */
import { SdsError } from "../errors.js";
import type { ReliabilityEngine } from "./options.js";
import type { WorkLane } from "./work-lane.js";

/** What one engine receive returns. */
export type ReceiveOutcome = Awaited<ReturnType<ReliabilityEngine["receive"]>>;

/** Most envelopes received with one engine call (one store commit) when the engine batches. */
export const INGRESS_BATCH_MAX = 256;

interface WaitingEnvelope {
  wire: Uint8Array;
  hint: Uint8Array;
  resolve: (result: ReceiveOutcome) => void;
  reject: (error: unknown) => void;
}

/** Gathers one channel's incoming wires into batched engine receives. */
export class IngressBatcher {
  private readonly waiting: WaitingEnvelope[] = [];

  constructor(
    private readonly engine: ReliabilityEngine,
    private readonly channelId: string,
    private readonly work: WorkLane,
  ) {}

  /** Receives `wire` (retrieval hint `hint`) through the engine, batched when the engine can. */
  receive(wire: Uint8Array, hint: Uint8Array): Promise<ReceiveOutcome> {
    const receiveBatch = this.engine.receiveBatch;
    if (receiveBatch === undefined) return this.work.run(() => this.engine.receive(wire, { retrievalHint: hint, channelId: this.channelId }));
    return new Promise<ReceiveOutcome>((resolve, reject) => {
      this.waiting.push({ wire, hint, resolve, reject });
      // Flush after the current round of I/O callbacks (setImmediate), not in the next microtask:
      // every envelope already read from the socket then joins the same batch and commit.
      // The scheduled flush is tracked so that idle() also waits for a batch not yet in the lane.
      if (this.waiting.length === 1) {
        this.work.track(new Promise<void>((scheduled) => setImmediate(() => {
          void this.work.run(() => this.flush(receiveBatch));
          scheduled();
        })));
      }
    });
  }

  private async flush(receiveBatch: NonNullable<ReliabilityEngine["receiveBatch"]>): Promise<void> {
    const items = this.waiting.splice(0, INGRESS_BATCH_MAX);
    if (this.waiting.length > 0) void this.work.run(() => this.flush(receiveBatch));
    let results;
    try {
      results = await receiveBatch.call(this.engine, this.channelId, items.map((item) => ({ wire: item.wire, retrievalHint: item.hint })));
    } catch (error) {
      for (const item of items) item.reject(error);
      return;
    }
    items.forEach((item, index) => {
      const result = results[index];
      if (result === undefined) item.reject(new SdsError("E_INTERNAL", "receiveBatch returned fewer results than wires"));
      else if ("error" in result) item.reject(result.error);
      else item.resolve(result);
    });
  }
}
