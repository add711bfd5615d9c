/**
 * The body of `sds replay`: stream a capture file (src/app/capture.ts) and either publish
 * each envelope onto a relay (`--to`), or feed it through a channel's incoming pipeline into a
 * channel database (`--into`), paced at the recorded timing scaled by `speed`, optionally
 * capped at `rateMax` envelopes per second, or as fast as possible. Counts everything for the
 * summary; a record that is not a valid envelope is counted and skipped, never fatal.
 */
import { SdsError, isSdsError } from "../core/errors.js";
import { decodeEnvelope, type WakuEnvelope } from "../core/relay/envelope.js";
import type { ReceivedEnvelope } from "../core/relay/transport.js";
import type { CaptureReader } from "./capture.js";
import { raceAbort, sleep } from "./send-loop.js";

/** Where replayed envelopes go. */
export interface ReplayTarget {
  /** Publishes (relay) or ingests (channel) one envelope; resolves with whether it was new. */
  deliver(record: { topic: string; envelope: WakuEnvelope; hash: string }): Promise<"new" | "duplicate">;
}

/** Pacing of {@link replayCapture}. */
export interface ReplayPacing {
  /** Multiplier of the recorded pace (2 = twice as fast); 0 = as fast as possible. */
  speed: number;
  /** Most envelopes per second (0 = no cap). */
  rateMax: number;
  signal: AbortSignal;
  onProgress?: (summary: ReplaySummary) => void;
}

/** What a replay did. */
export interface ReplaySummary {
  records: number;
  delivered: number;
  duplicates: number;
  /** Records whose envelope did not decode. */
  invalid: number;
  /** Records the target refused (relay rejection, wrong topic). */
  failed: number;
  bytes: number;
  elapsedMs: number;
  /** Recorded span of the capture, ms. */
  recordedMs: number;
}

/** Replays every record of `capture` into `target`. Stops early (without error) when aborted. */
export async function replayCapture(capture: CaptureReader, target: ReplayTarget, pacing: ReplayPacing): Promise<ReplaySummary> {
  const summary: ReplaySummary = { records: 0, delivered: 0, duplicates: 0, invalid: 0, failed: 0, bytes: 0, elapsedMs: 0, recordedMs: 0 };
  const startedMs = Date.now();
  let lastSentMs = -Infinity;
  for await (const record of capture.records) {
    if (pacing.signal.aborted) break;
    summary.records += 1;
    summary.recordedMs = Math.max(summary.recordedMs, record.t);
    if (pacing.speed > 0) {
      const dueMs = startedMs + record.t / pacing.speed;
      if (dueMs > Date.now()) await raceAbort(sleep(dueMs - Date.now()), pacing.signal);
    }
    if (pacing.rateMax > 0) {
      const gapMs = 1000 / pacing.rateMax;
      const waitMs = lastSentMs + gapMs - Date.now();
      if (waitMs > 0) await raceAbort(sleep(waitMs), pacing.signal);
      lastSentMs = Date.now();
    }
    if (pacing.signal.aborted) break;
    let envelope: WakuEnvelope;
    try {
      envelope = decodeEnvelope(record.envelope);
    } catch {
      summary.invalid += 1;
      continue;
    }
    try {
      const outcome = await target.deliver({ topic: record.topic, envelope, hash: record.hash });
      if (outcome === "new") summary.delivered += 1;
      else summary.duplicates += 1;
      summary.bytes += record.envelope.length;
    } catch (error) {
      if (!isSdsError(error) || error.errorClass === "internal") throw error;
      if (error.code === "E_RELAY_UNAVAILABLE" || error.code === "E_RELAY_CLOSED") throw error;
      summary.failed += 1;
    }
    pacing.onProgress?.({ ...summary, elapsedMs: Date.now() - startedMs });
  }
  summary.elapsedMs = Date.now() - startedMs;
  return summary;
}

/** A received-envelope view of a replayed record, for `ReliableChannel.ingest`. */
export function asReceived(record: { topic: string; envelope: WakuEnvelope; hash: string }): ReceivedEnvelope {
  if (!/^[0-9a-f]*$/.test(record.hash)) throw new SdsError("E_INPUT_FORMAT", `capture hash ${record.hash} is not hex`);
  return { topic: record.topic, envelope: record.envelope, hash: new Uint8Array(Buffer.from(record.hash, "hex")), hashHex: record.hash, storedAtNs: 0n, source: "store" };
}
