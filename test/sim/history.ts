/**
 * The recorded history of one simulation run (Jepsen-style, reliability.md §5.1): every send the
 * engine accepted, every wire publish, arrival, delivery, acknowledgement, lost and undelivered
 * report, crash, restart and fault. Checkers read it after the run; a running SHA-256 over the
 * canonical form of every event is the trace hash that the determinism check (D1) compares.
 */
import { createHash, type Hash } from "node:crypto";
import { closeSync, openSync, readSync, rmSync, writeSync } from "node:fs";

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

/** Read access to a recorded history, in order, whether it is held in memory or spilled to a file. */
export interface EventLog {
  /** Events recorded so far. */
  readonly length: number;
  /** Calls `visit` for every event from index `start` (default 0), in order. */
  forEachFrom(start: number, visit: (event: SimEvent, index: number) => void): void;
}

/** Where a long run's history goes instead of memory. */
export interface SpillOptions {
  /** File the events are appended to, one JSON line each (removed by {@link History.dispose}). */
  path: string;
  /** Most recent events also kept in memory, for the liveness probes' incremental reads. */
  tailEventsMax?: number;
}

/** Bytes of JSON lines buffered before a write to the spill file. */
const SPILL_WRITE_BYTES = 1 << 20;
/** Bytes read from the spill file at a time when streaming it back. */
const SPILL_READ_BYTES = 1 << 20;

/**
 * Append-only event log plus the running trace hash. By default every event stays in memory;
 * with {@link SpillOptions} (the F13 soak) events are streamed to a file and only a bounded tail
 * stays in memory, and every reader streams the file back, so memory no longer grows with the
 * length of the run (only with the checkers' per-message indexes).
 */
export class History implements EventLog {
  private readonly memory: SimEvent[] = [];
  private readonly hash: Hash = createHash("sha256");
  private count = 0;
  private readonly spill: { fd: number; path: string; pending: string[]; pendingBytes: number; tailStart: number; tailMax: number } | undefined;

  constructor(private readonly now: () => number, spill?: SpillOptions) {
    if (spill !== undefined) {
      this.spill = { fd: openSync(spill.path, "w+"), path: spill.path, pending: [], pendingBytes: 0, tailStart: 0, tailMax: spill.tailEventsMax ?? 10_000 };
    }
  }

  /** Every event, in memory (not available once spilled: use {@link forEachFrom}). */
  get events(): readonly SimEvent[] {
    if (this.spill !== undefined) throw new Error("history is spilled to a file; read it with forEachFrom");
    return this.memory;
  }

  /** Events recorded so far. */
  get length(): number {
    return this.count;
  }

  /** Appends `event` stamped with the current virtual time; returns its index. */
  record(event: SimEventInput): number {
    const stamped = { t: this.now(), ...event } as SimEvent;
    const line = JSON.stringify(stamped);
    this.hash.update(line);
    this.hash.update("\n");
    this.memory.push(stamped);
    this.count += 1;
    const spill = this.spill;
    if (spill !== undefined) {
      spill.pending.push(line, "\n");
      spill.pendingBytes += line.length + 1;
      if (spill.pendingBytes >= SPILL_WRITE_BYTES) this.flush();
      if (this.memory.length > spill.tailMax) {
        const dropped = this.memory.length - Math.floor(spill.tailMax / 2);
        this.memory.splice(0, dropped);
        spill.tailStart += dropped;
      }
    }
    return this.count - 1;
  }

  private flush(): void {
    const spill = this.spill;
    if (spill === undefined || spill.pending.length === 0) return;
    writeSync(spill.fd, spill.pending.join(""));
    spill.pending = [];
    spill.pendingBytes = 0;
  }

  /** Calls `visit` for every event from `start`, from memory when it holds them, else from the file. */
  forEachFrom(start: number, visit: (event: SimEvent, index: number) => void): void {
    const tailStart = this.spill?.tailStart ?? 0;
    if (start >= tailStart) {
      for (let index = start; index < this.count; index += 1) visit(this.memory[index - tailStart] as SimEvent, index);
      return;
    }
    this.flush();
    const fd = (this.spill as { fd: number }).fd;
    const chunk = Buffer.alloc(SPILL_READ_BYTES);
    let carry = "";
    let index = 0;
    let position = 0;
    for (;;) {
      const read = readSync(fd, chunk, 0, chunk.length, position);
      if (read === 0) break;
      position += read;
      const lines = (carry + chunk.toString("utf8", 0, read)).split("\n");
      carry = lines.pop() ?? "";
      for (const line of lines) {
        if (index >= start && index < this.count) visit(JSON.parse(line) as SimEvent, index);
        index += 1;
      }
    }
  }

  /** Events from `start` to the end, as an array (keep `start` recent on a spilled history). */
  slice(start: number): SimEvent[] {
    const taken: SimEvent[] = [];
    this.forEachFrom(start, (event) => taken.push(event));
    return taken;
  }

  /** Closes and removes the spill file (no-op in memory). */
  dispose(): void {
    if (this.spill === undefined || this.spill.fd < 0) return;
    closeSync(this.spill.fd);
    this.spill.fd = -1;
    rmSync(this.spill.path, { force: true });
  }

  /** Hex SHA-256 of every event so far, in order (D1). Call once, at the end of the run. */
  traceHash(): string {
    return this.hash.copy().digest("hex");
  }

  /** Events `radius` either side of `index`, one JSON line each, for a failure report. */
  window(index: number, radius = 12): string[] {
    const start = Math.max(0, index - radius);
    const end = Math.min(this.count, index + radius + 1);
    const lines: string[] = [];
    this.forEachFrom(start, (event, at) => {
      if (at < end) lines.push(`${at === index ? ">>" : "  "} #${at} ${JSON.stringify(event)}`);
    });
    return lines;
  }
}

/** SHA-256 hex (first 16 chars) of some bytes; content identity in the history. */
export function shortHash(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex").slice(0, 16);
}
