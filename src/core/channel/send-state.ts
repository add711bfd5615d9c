/**
 * The per-request send state machine of the Reliable Channel (research/reliable-channel.md §1.4):
 * one channel-level request id maps to the SDS message ids of its segments. The request reports
 * `sent` once every segment has been published (relay confirmed), `delivered` once every segment
 * has been acknowledged by SDS, and `undelivered` once every segment is final and at least one
 * was given up by SDS — the two end-to-end events logos-delivery declares but never emits.
 * A failed publish is reported (`send-error`) but not final: SDS resends may still get it out.
 * Pure and bounded (`requestsMax`); events are returned, not emitted.
 */
import { SdsError } from "../errors.js";
import { assert } from "../assert.js";

/** Where one segment of a request stands. */
export type SegmentSendState = "queued" | "published" | "acknowledged" | "undelivered";

/** Events of the state machine, in the order they happen. */
export type SendEvent =
  | { kind: "sent"; requestId: string; messageIds: string[]; /** true when the request ends here (no acknowledgement awaited) */ final: boolean }
  | { kind: "delivered"; requestId: string; messageIds: string[] }
  | { kind: "undelivered"; requestId: string; messageIds: string[]; undeliveredMessageIds: string[] }
  | { kind: "send-error"; requestId: string; messageId: string; error: SdsError };

/** A snapshot of one tracked request. */
export interface RequestStatus {
  requestId: string;
  segments: Array<{ messageId: string; state: SegmentSendState }>;
  sent: boolean;
  awaitAcknowledgement: boolean;
}

interface TrackedRequest {
  requestId: string;
  messageIds: string[];
  states: Map<string, SegmentSendState>;
  sentReported: boolean;
  awaitAcknowledgement: boolean;
}

/** Options of a {@link SendTracker}. */
export interface SendTrackerOptions {
  /** Most requests tracked at once; {@link SendTracker.register} fails beyond it (default 100 000). */
  requestsMax?: number;
}

/** Tracks channel requests through sent → delivered | undelivered. */
export class SendTracker {
  private readonly requests = new Map<string, TrackedRequest>();
  private readonly requestOfMessage = new Map<string, TrackedRequest>();
  readonly requestsMax: number;

  constructor(options: SendTrackerOptions = {}) {
    this.requestsMax = options.requestsMax ?? 100_000;
  }

  /** Requests not yet final. */
  get pendingCount(): number {
    return this.requests.size;
  }

  /**
   * Starts tracking `requestId` made of the segments `messageIds` (in segment order). With
   * `awaitAcknowledgement: false` (ephemeral sends) the request is final at `sent`.
   * Throws `E_BUFFER_FULL` beyond `requestsMax`.
   */
  register(requestId: string, messageIds: readonly string[], options: { awaitAcknowledgement?: boolean } = {}): void {
    assert(messageIds.length > 0, "a request has at least one segment");
    assert(!this.requests.has(requestId), `request ${requestId} registered twice`);
    if (this.requests.size >= this.requestsMax) {
      throw new SdsError("E_BUFFER_FULL", `${this.requestsMax} send requests are already pending`, { requestsMax: this.requestsMax });
    }
    const request: TrackedRequest = {
      requestId,
      messageIds: [...messageIds],
      states: new Map(messageIds.map((messageId) => [messageId, "queued" as SegmentSendState])),
      sentReported: false,
      awaitAcknowledgement: options.awaitAcknowledgement ?? true,
    };
    assert(request.states.size === messageIds.length, "segment message ids are unique");
    for (const messageId of messageIds) {
      assert(!this.requestOfMessage.has(messageId), `message ${messageId} already belongs to a request`);
      this.requestOfMessage.set(messageId, request);
    }
    this.requests.set(requestId, request);
  }

  /** The request a segment's SDS message id belongs to, while it is tracked. */
  requestOf(messageId: string): string | undefined {
    return this.requestOfMessage.get(messageId)?.requestId;
  }

  /** A snapshot of a tracked request, or undefined once it is final (or unknown). */
  status(requestId: string): RequestStatus | undefined {
    const request = this.requests.get(requestId);
    if (!request) return undefined;
    return {
      requestId,
      segments: request.messageIds.map((messageId) => ({ messageId, state: request.states.get(messageId) as SegmentSendState })),
      sent: request.sentReported,
      awaitAcknowledgement: request.awaitAcknowledgement,
    };
  }

  /** The relay confirmed a publish of `messageId` (first send or resend). Unknown ids are ignored. */
  published(messageId: string): SendEvent[] {
    return this.advance(messageId, "published");
  }

  /** SDS saw `messageId` acknowledged (causal history or bloom threshold). */
  acknowledged(messageId: string): SendEvent[] {
    return this.advance(messageId, "acknowledged");
  }

  /** SDS gave up on `messageId` after its last resend. */
  undelivered(messageId: string): SendEvent[] {
    return this.advance(messageId, "undelivered");
  }

  /** Publishing `messageId` failed; reported, not final (a resend may still succeed). */
  publishFailed(messageId: string, error: SdsError): SendEvent[] {
    const request = this.requestOfMessage.get(messageId);
    if (!request) return [];
    return [{ kind: "send-error", requestId: request.requestId, messageId, error }];
  }

  /** Gives up every pending request (channel closing), reporting each as `undelivered`. */
  abandonAll(): SendEvent[] {
    const events: SendEvent[] = [];
    for (const request of [...this.requests.values()]) {
      for (const [messageId, state] of request.states) {
        if (state === "queued" || state === "published") request.states.set(messageId, "undelivered");
      }
      events.push(...this.finalise(request));
    }
    return events;
  }

  private advance(messageId: string, next: SegmentSendState): SendEvent[] {
    const request = this.requestOfMessage.get(messageId);
    if (!request) return [];
    const current = request.states.get(messageId) as SegmentSendState;
    const rank: Record<SegmentSendState, number> = { queued: 0, published: 1, acknowledged: 2, undelivered: 2 };
    if (rank[next] <= rank[current]) return []; // repeats and late news never move a segment back
    request.states.set(messageId, next);
    const events: SendEvent[] = [];
    const states = [...request.states.values()];
    if (!request.sentReported && states.every((state) => state === "published" || state === "acknowledged")) {
      request.sentReported = true;
      events.push({ kind: "sent", requestId: request.requestId, messageIds: [...request.messageIds], final: !request.awaitAcknowledgement });
    }
    events.push(...this.finalise(request));
    return events;
  }

  private finalise(request: TrackedRequest): SendEvent[] {
    const states = [...request.states.values()];
    const undeliveredIds = request.messageIds.filter((messageId) => request.states.get(messageId) === "undelivered");
    const allAcknowledged = states.every((state) => state === "acknowledged");
    const allFinal = states.every((state) => state === "acknowledged" || state === "undelivered");
    let event: SendEvent | undefined;
    if (!request.awaitAcknowledgement && request.sentReported) {
      event = undefined; // ephemeral: final at sent, no delivery report
    } else if (allAcknowledged) {
      event = { kind: "delivered", requestId: request.requestId, messageIds: [...request.messageIds] };
    } else if (allFinal) {
      event = { kind: "undelivered", requestId: request.requestId, messageIds: [...request.messageIds], undeliveredMessageIds: undeliveredIds };
    } else {
      return [];
    }
    this.requests.delete(request.requestId);
    for (const messageId of request.messageIds) this.requestOfMessage.delete(messageId);
    return event ? [event] : [];
  }
}
