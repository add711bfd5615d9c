/**
 * Bookkeeping of our own outgoing segments between `send` and their request's end: which SDS
 * message a wire blob is (the engine resends the same bytes without saying whose they are),
 * which segments still wait for rate-limit budget, which have a publish in flight (a resend is
 * not stacked on it), and which already gave the engine their retrieval hint. Also remembers
 * the final outcome of the most recent requests. Everything here is dropped when a request ends.
 */
import { createHash } from "node:crypto";
import type { RequestOutcome } from "./options.js";

/** Final outcomes remembered after a request ends. */
export const RECENT_OUTCOMES_MAX = 10_000;

/** Identity of a wire blob's bytes: sha256 (resends are byte-identical). */
export function wireKey(wire: Uint8Array): string {
  return createHash("sha256").update(wire).digest("base64");
}

/** Per-segment and per-request state of the outgoing side. */
export class OutgoingIndex {
  /**
   * Our pending wires by object: the engine resends the very array `send` returned, so a
   * lookup needs no hashing (a sha256 of each ~20 kB spec message per send was ~3 % of a bulk
   * `sds send`). Wires with the same bytes in another array fall back to {@link wireKey}.
   */
  private readonly wireToMessage = new Map<Uint8Array, string>();
  private readonly messageToWire = new Map<string, Uint8Array>();
  /** {@link wireKey} of pending wires, filled lazily on the first lookup by bytes. */
  private readonly keyToMessage = new Map<string, string>();
  private readonly messageToKey = new Map<string, string>();
  private readonly outcomes = new Map<string, RequestOutcome>();
  /** First transmissions waiting for rate-limit budget. */
  readonly queued = new Set<string>();
  /** Messages with a publish not yet confirmed or failed. */
  readonly publishing = new Set<string>();
  /** Messages whose retrieval hint was given to the engine. */
  readonly hinted = new Set<string>();

  /** Remembers that `wire` is our message `messageId`. */
  add(messageId: string, wire: Uint8Array): void {
    this.wireToMessage.set(wire, messageId);
    this.messageToWire.set(messageId, wire);
  }

  /** The message id of one of our pending wires (the same array, or the same bytes), if it is one. */
  messageOf(wire: Uint8Array): string | undefined {
    const same = this.wireToMessage.get(wire);
    if (same !== undefined) return same;
    for (const [messageId, pending] of this.messageToWire) {
      if (this.messageToKey.has(messageId)) continue;
      const key = wireKey(pending);
      this.messageToKey.set(messageId, key);
      this.keyToMessage.set(key, messageId);
    }
    return this.keyToMessage.get(wireKey(wire));
  }

  /** True when a resend of `messageId` would only duplicate work in progress. */
  busy(messageId: string): boolean {
    return this.queued.has(messageId) || this.publishing.has(messageId);
  }

  /** Records a request's latest (or final) outcome. */
  setOutcome(requestId: string, outcome: RequestOutcome): void {
    this.outcomes.delete(requestId);
    this.outcomes.set(requestId, outcome);
    while (this.outcomes.size > RECENT_OUTCOMES_MAX) this.outcomes.delete(this.outcomes.keys().next().value as string);
  }

  /** The recorded outcome of `requestId`, if any. */
  outcomeOf(requestId: string): RequestOutcome | undefined {
    return this.outcomes.get(requestId);
  }

  /** Forgets the segments of a request that ended with `outcome`. */
  finish(requestId: string, messageIds: readonly string[], outcome: RequestOutcome): void {
    for (const messageId of messageIds) {
      const wire = this.messageToWire.get(messageId);
      const key = this.messageToKey.get(messageId);
      this.messageToWire.delete(messageId);
      this.messageToKey.delete(messageId);
      this.hinted.delete(messageId);
      this.queued.delete(messageId);
      if (wire !== undefined) this.wireToMessage.delete(wire);
      if (key !== undefined) this.keyToMessage.delete(key);
    }
    this.setOutcome(requestId, outcome);
  }
}

/** What {@link waitForOutcome} reads from a channel. */
export interface OutcomeSource {
  /** Current outcome of the request waited for. */
  outcome: () => RequestOutcome;
  /** True while the request is still tracked (not final). */
  isTracked: () => boolean;
  on: (name: "sent" | "delivered" | "undelivered", listener: (event: { requestId: string }) => void) => () => void;
}

/**
 * Resolves with the request's outcome once it is `sent` or final (`until: "sent"`), or final
 * (`until: "final"`); an ephemeral request is final at `sent`. Rejects with `signal.reason`
 * when `signal` aborts first. Checks the current outcome first, so events already past count.
 */
export function waitForOutcome(source: OutcomeSource, requestId: string, until: "sent" | "final", signal?: AbortSignal): Promise<RequestOutcome> {
  const final = (outcome: RequestOutcome): boolean =>
    outcome === "delivered" || outcome === "undelivered" || outcome === "unknown" || (outcome === "sent" && !source.isTracked());
  const reached = (outcome: RequestOutcome): boolean => final(outcome) || (until === "sent" && outcome === "sent");
  const current = source.outcome();
  if (reached(current)) return Promise.resolve(current);
  return new Promise<RequestOutcome>((resolve, reject) => {
    const stops: Array<() => void> = [];
    const settle = (run: () => void): void => {
      for (const stop of stops) stop();
      signal?.removeEventListener("abort", onAbort);
      run();
    };
    const check = (event: { requestId: string }): void => {
      const outcome = source.outcome();
      if (event.requestId === requestId && reached(outcome)) settle(() => resolve(outcome));
    };
    const onAbort = (): void => settle(() => reject(signal?.reason));
    stops.push(source.on("sent", check), source.on("delivered", check), source.on("undelivered", check));
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
  });
}
