/**
 * The recorded history of one simulation run (Jepsen-style, reliability.md §5.1): every send the
 * engine accepted, every wire publish, arrival, delivery, acknowledgement, lost and undelivered
 * report, crash, restart and fault. Checkers read it after the run; a running SHA-256 over the
 * canonical form of every event is the trace hash that the determinism check (D1) compares.
 */
import { createHash, type Hash } from "node:crypto";

/** Why a wire blob was published, as the simulator classifies it from the decoded message. */
export type WireKind = "content" | "sync" | "ephemeral" | "resend" | "repair" | "undecodable";

/** One entry of the history. `t` is virtual ms. */
export type SimEvent =
  | { t: number; k: "send"; peer: string; channel: string; id: string; lamport: string; deps: string[]; contentHash: string; ephemeral: boolean }
  | { t: number; k: "wire"; peer: string; channel: string; id: string; sender: string; kind: WireKind; repairRequests: number; bytes: number }
  | { t: number; k: "recv"; peer: string; from: string; id: string; kind: WireKind; deps: string[] }
  | { t: number; k: "deliver"; peer: string; channel: string; id: string; sender: string; lamport: string; contentHash: string }
  | { t: number; k: "ack"; peer: string; channel: string; id: string; by: string }
  | { t: number; k: "lost"; peer: string; channel: string; id: string }
  | { t: number; k: "undelivered"; peer: string; channel: string; id: string }
  | { t: number; k: "missing"; peer: string; channel: string; id: string }
  | { t: number; k: "crash"; peer: string; point: string }
  | { t: number; k: "restart"; peer: string; lamport: string }
  | { t: number; k: "fault"; kind: string; detail: string }
  | { t: number; k: "error"; peer: string; op: string; code: string }
  | { t: number; k: "ambiguous"; peer: string; op: string; channel: string; contentHash: string }
  | { t: number; k: "phase"; name: string };

/** Distributes `Omit` over the union, so each variant keeps its own fields. */
type WithoutTime<E> = E extends unknown ? Omit<E, "t"> : never;

/** Event as passed to {@link History.record} (the time is added there). */
export type SimEventInput = WithoutTime<SimEvent>;

/** Append-only event log plus the running trace hash. */
export class History {
  readonly events: SimEvent[] = [];
  private readonly hash: Hash = createHash("sha256");

  constructor(private readonly now: () => number) {}

  /** Appends `event` stamped with the current virtual time; returns its index. */
  record(event: SimEventInput): number {
    const stamped = { t: this.now(), ...event } as SimEvent;
    this.events.push(stamped);
    this.hash.update(JSON.stringify(stamped));
    this.hash.update("\n");
    return this.events.length - 1;
  }

  /** Hex SHA-256 of every event so far, in order (D1). Call once, at the end of the run. */
  traceHash(): string {
    return this.hash.copy().digest("hex");
  }

  /** Events `radius` either side of `index`, one JSON line each, for a failure report. */
  window(index: number, radius = 12): string[] {
    const start = Math.max(0, index - radius);
    const end = Math.min(this.events.length, index + radius + 1);
    const lines: string[] = [];
    for (let at = start; at < end; at += 1) {
      lines.push(`${at === index ? ">>" : "  "} #${at} ${JSON.stringify(this.events[at])}`);
    }
    return lines;
  }
}

/** SHA-256 hex (first 16 chars) of some bytes; content identity in the history. */
export function shortHash(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex").slice(0, 16);
}
