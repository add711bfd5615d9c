/**
 * The relay client's requests awaiting an answer (publishes and store queries), by request id:
 * each with its timeout, re-sent after a reconnect, retried with back-off when the relay says
 * it is rate limited, settled by the answer frame (a reject maps the relay's code to ours), and
 * all failed at once when the client stops for good.
 */
import { ERROR_CODES, type ErrorCode, RelayError, type SdsError } from "../errors.js";
import type { Frame, FrameOf } from "./protocol.js";

interface PendingRequest {
  readonly frame: Frame;
  readonly resolve: (frame: Frame) => void;
  readonly reject: (error: SdsError) => void;
  timer: NodeJS.Timeout | undefined;
  retries: number;
}

/** Longest back-off before a rate-limited request is sent again, ms. */
const RATE_LIMITED_RETRY_MS_MAX = 1000;

/** Requests awaiting the relay's answer. `send` writes a frame when connected (false when not). */
export class PendingRequests {
  private readonly pending = new Map<number, PendingRequest>();

  constructor(private readonly send: (frame: Frame) => boolean) {}

  /**
   * Sends `frame` (now, or after the next reconnect) and resolves with its answer; rejects with
   * `timedOut()` when none arrives within `timeoutMs`.
   */
  add(frame: Frame & { requestId: number }, timeoutMs: number, timedOut: () => SdsError): Promise<Frame> {
    const id = frame.requestId;
    return new Promise<Frame>((resolve, reject) => {
      const request: PendingRequest = { frame, resolve, reject, timer: undefined, retries: 0 };
      request.timer = setTimeout(() => {
        this.pending.delete(id);
        reject(timedOut());
      }, timeoutMs);
      this.pending.set(id, request);
      this.send(frame);
    });
  }

  /** Settles the request an answer frame belongs to; a rate-limited answer is retried with back-off instead. */
  settle(frame: FrameOf<"publishAck" | "publishReject" | "storeResponse">): void {
    const request = this.pending.get(frame.requestId);
    if (request === undefined) return;
    const limited = (frame.type === "publishReject" || frame.type === "storeResponse") && frame.code === "E_RELAY_RATE_LIMITED";
    if (limited) {
      // Back off and retry within the request's own timeout.
      request.retries += 1;
      setTimeout(() => this.pending.has(frame.requestId) && this.send(request.frame), Math.min(RATE_LIMITED_RETRY_MS_MAX, 10 * 2 ** request.retries)).unref();
      return;
    }
    clearTimeout(request.timer);
    this.pending.delete(frame.requestId);
    if (frame.type === "publishReject" || (frame.type === "storeResponse" && frame.code !== "")) {
      const code: ErrorCode = Object.hasOwn(ERROR_CODES, frame.code) ? (frame.code as ErrorCode) : "E_RELAY_REJECTED";
      request.reject(new RelayError(code, `relay rejected the request: ${frame.reason}`, { relayCode: frame.code }));
      return;
    }
    request.resolve(frame);
  }

  /** A connection dropped: back-off counts start again on the next one. */
  resetRetries(): void {
    for (const request of this.pending.values()) request.retries = 0;
  }

  /** A connection was (re)established: sends every request still waiting. */
  resendAll(): void {
    for (const request of this.pending.values()) this.send(request.frame);
  }

  /** Fails every request still waiting with `error`. */
  rejectAll(error: SdsError): void {
    for (const [id, request] of this.pending) {
      clearTimeout(request.timer);
      this.pending.delete(id);
      request.reject(error);
    }
  }
}
