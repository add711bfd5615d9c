/**
 * The body of `sds send`: pull messages from an input iterator, group what is already
 * buffered into batches (one group commit each when the channel supports it), keep at most
 * `inFlightMax` messages unconfirmed by the relay (so a 100,000-line pipe is streamed, not
 * loaded), then wait for the relay's confirmation of every message, and with `waitAcks` for
 * the peers' SDS acknowledgement, within `timeoutMs`. Progress is reported through a callback.
 */
import { SdsError } from "../core/errors.js";
import type { ChannelSession } from "./session.js";

/** Options of {@link sendAll}. */
export interface SendLoopOptions {
  /** Most messages per batch (one group commit each). */
  batchMessagesMax: number;
  /** Most messages sent but not yet confirmed by the relay before input reading pauses. */
  inFlightMax: number;
  /** Wait for SDS acknowledgement by peers, not only relay confirmation. */
  waitAcks: boolean;
  /** Give up waiting for confirmations after this long, ms (0 = never). Counted from end of input. */
  timeoutMs: number;
  /** Aborts reading and waiting (Ctrl-C, closed stdout). */
  signal: AbortSignal;
  /** Called when counters change (throttled by the caller's progress reporter). */
  onProgress?: (tally: SendTally) => void;
  /**
   * Called about once a second while waiting, after a publish failed (e.g. the relay restarted):
   * `send` runs an engine tick there, so SDS resends what never reached the relay.
   */
  onStalled?: () => Promise<void>;
}

/** What happened to the messages of one `send`. */
export interface SendTally {
  /** Messages handed to the channel. */
  sent: number;
  /** Messages whose every segment the relay confirmed. */
  confirmed: number;
  /** Messages acknowledged end to end by SDS (only tracked with waitAcks). */
  acknowledged: number;
  /** Messages SDS gave up on. */
  undelivered: number;
  /** Publish attempts that failed (SDS resends them). */
  publishErrors: number;
  /** Batches sent (each one group commit when supported). */
  batches: number;
}

const GATHER_WAIT_MS = 2;
/** Loses a race against any promise that has already settled (listed first). */
const NOT_YET_VALUE = Symbol("not yet");
const NOT_YET = Promise.resolve(NOT_YET_VALUE);

/** Sends everything from `messages`; resolves with the tally once confirmed, or throws `E_NOT_CONFIRMED` on timeout. */
export async function sendAll(session: ChannelSession, messages: AsyncIterable<Uint8Array>, options: SendLoopOptions): Promise<SendTally> {
  const tally: SendTally = { sent: 0, confirmed: 0, acknowledged: 0, undelivered: 0, publishErrors: 0, batches: 0 };
  // Every request of this channel in this process is ours; events may arrive before `sendBatch`
  // returns the ids, so they are recorded by id without filtering.
  const states = new Map<string, "sent" | "delivered" | "undelivered">();
  let wake: (() => void) | undefined;
  let fatal: SdsError | undefined;
  const changed = () => {
    options.onProgress?.(tally);
    wake?.();
  };
  const transition = (requestId: string, next: "sent" | "delivered" | "undelivered") => {
    const previous = states.get(requestId);
    if (previous === next || previous === "delivered" || previous === "undelivered") return;
    states.set(requestId, next);
    if (next === "undelivered") tally.undelivered += 1;
    else if (previous === undefined) tally.confirmed += 1;
    if (next === "delivered") tally.acknowledged += 1;
    changed();
  };
  const off = [
    session.channel.on("sent", ({ requestId }) => transition(requestId, "sent")),
    session.channel.on("delivered", ({ requestId }) => transition(requestId, "delivered")),
    session.channel.on("undelivered", ({ requestId }) => transition(requestId, "undelivered")),
    session.channel.on("send-error", ({ error }) => {
      tally.publishErrors += 1;
      // A refusal no resend can fix (the envelope is larger than the relay's frames, or the
      // relay rejects it) ends the command with that error instead of waiting for a timeout.
      if (fatal === undefined && (error.errorClass === "input" || error.code === "E_RELAY_REJECTED")) fatal = error;
      changed();
    }),
  ];
  const waitChange = () => new Promise<void>((resolve) => (wake = resolve));
  const unconfirmed = () => tally.sent - tally.confirmed - tally.undelivered;
  try {
    for await (const batch of batches(messages, options.batchMessagesMax, options.signal)) {
      if (fatal) throw fatal;
      while (unconfirmed() >= options.inFlightMax && !options.signal.aborted) await raceAbort(waitChange(), options.signal);
      if (options.signal.aborted) break;
      const receipts = await session.sendBatch(batch);
      tally.sent += receipts.length;
      tally.batches += 1;
      changed();
      await new Promise((resolve) => setImmediate(resolve));
    }
    const deadline = options.timeoutMs > 0 ? Date.now() + options.timeoutMs : Infinity;
    let lastStallMs = 0;
    const done = () => (options.waitAcks ? tally.acknowledged + tally.undelivered >= tally.sent : unconfirmed() <= 0);
    while (!done() && !options.signal.aborted) {
      if (fatal) throw fatal;
      const left = deadline - Date.now();
      if (left <= 0) throw notConfirmed(tally, options.waitAcks, options.timeoutMs);
      await raceAbort(Promise.race([waitChange(), sleep(Math.min(left, 1000))]), options.signal);
      if (tally.publishErrors > 0 && options.onStalled && Date.now() - lastStallMs >= 1000) {
        lastStallMs = Date.now();
        await options.onStalled();
      }
    }
    if (options.waitAcks && tally.undelivered > 0 && !options.signal.aborted) {
      throw new SdsError("E_NOT_CONFIRMED", `${tally.undelivered} of ${tally.sent} messages were never acknowledged (SDS gave up after its resends)`, { ...tally });
    }
    return tally;
  } finally {
    for (const stop of off) stop();
  }
}

function notConfirmed(tally: SendTally, waitAcks: boolean, timeoutMs: number): SdsError {
  const missing = waitAcks ? tally.sent - tally.acknowledged : tally.sent - tally.confirmed;
  const what = waitAcks ? "acknowledged by peers" : "confirmed by the relay";
  return new SdsError("E_NOT_CONFIRMED", `${missing} of ${tally.sent} messages not ${what} within ${timeoutMs / 1000} s (they stay queued and are resent by the next run of this identity)`, { ...tally, unconfirmed: missing });
}

/** Groups items already available into arrays of at most `max`, without waiting for a slow producer. */
export async function* batches<T>(source: AsyncIterable<T>, max: number, signal: AbortSignal): AsyncGenerator<T[]> {
  const iterator = source[Symbol.asyncIterator]();
  let pending = iterator.next();
  pending.catch(() => undefined);
  try {
    for (;;) {
      if (signal.aborted) return;
      const first = await raceAbort(pending, signal);
      if (first === undefined || first.done) return;
      const batch: T[] = [first.value];
      pending = iterator.next();
      pending.catch(() => undefined);
      let ended = false;
      while (batch.length < max) {
        // Lines already buffered are taken without a timer (a timer per line was ~2 % of the
        // CPU of a fast pipe); only an empty buffer waits up to GATHER_WAIT_MS for more.
        const ready: IteratorResult<T> | typeof NOT_YET_VALUE = await Promise.race([pending, NOT_YET]);
        const next = ready !== NOT_YET_VALUE ? ready : await Promise.race([pending, sleep(GATHER_WAIT_MS).then(() => undefined)]);
        if (next === undefined) break;
        if (next.done) {
          ended = true;
          break;
        }
        batch.push(next.value);
        pending = iterator.next();
        pending.catch(() => undefined);
      }
      yield batch;
      if (ended) return;
    }
  } finally {
    // Leave the iterator to the caller's cleanup (stdin is destroyed by the command).
  }
}

/** Resolves with `promise`, or with undefined once `signal` aborts. */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/** A promise that resolves after `ms` without keeping the process alive. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/**
 * Waits for `promise` (or forever when omitted) until `signal` aborts, holding a referenced
 * timer so Node stays alive even when every socket of the session is unref'd.
 */
export async function holdUntil<T>(signal: AbortSignal, promise: Promise<T> = new Promise<T>(() => undefined)): Promise<T | undefined> {
  const keepAlive = setInterval(() => undefined, 1 << 30);
  try {
    return await raceAbort(promise, signal);
  } finally {
    clearInterval(keepAlive);
  }
}
