/**
 * Printed marks: which delivered messages of a channel have reached the output of `listen` or
 * `channel open`. The engine commits a delivery before anything is printed, so a process killed
 * between the two would otherwise lose those lines for good (the next run sees them as
 * delivered). With marks, the next run prints every delivered message that has no mark, taken
 * from the persisted history (oldest first by lamport, which respects causal order).
 *
 * A mark is written right after the write that printed it: a kill in between prints that batch
 * again (at least once). When the output is a regular file, the end of the file after each
 * batch is saved with the marks, so a restart can see which of the re-printed bytes the file
 * already holds and skip them (exactly once). Marks are rows of our settings category
 * (`printed/<messageId>`), written with `synchronous = NORMAL`: losing one repeats a line, it
 * never loses one.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import type { StoreError } from "../core/errors.js";
import type { SdsMessage } from "../core/protocol/types.js";
import type { SqlitePersistence } from "../core/store/sqlite.js";

const MARK_PREFIX = "printed/";
/** Set once per channel: marks are kept from then on (absent = a database from before marks). */
export const TRACKING_SETTING = "printedTracking";
const OUTPUT_SETTING = "printedOutput";
const EMPTY = new Uint8Array(0);
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** Where a regular-file output ended after the last marked batch. */
export interface OutputPosition {
  dev: number;
  ino: number;
  sizeBytes: number;
}

function orThrow<T>(result: { ok: true; value: T } | { ok: false; error: StoreError }): T {
  if (!result.ok) throw result.error;
  return result.value;
}

/** The printed marks of one channel in one store. Create with {@link PrintedMarks.open}. */
export class PrintedMarks {
  /** Marked ids in the order they were marked (the oldest are pruned past {@link marksMax}). */
  private readonly marked = new Set<string>();

  private constructor(
    private readonly store: SqlitePersistence,
    private readonly channelId: string,
    /** Marks kept at most: twice the history cap, so a mark is never pruned while its message is in history. */
    private readonly marksMax: number,
    readonly lastOutput: OutputPosition | undefined,
  ) {}

  /**
   * Loads the marks and returns the delivered messages of `history` that have none: content
   * messages from other senders, in history order. A database from before marks (no tracking
   * row) counts its whole history as printed. Marks of messages no longer in history are pruned.
   * @throws StoreError when the store fails.
   */
  static open(store: SqlitePersistence, channelId: string, participantId: string, history: readonly SdsMessage[], historyEntriesMax: number): { marks: PrintedMarks; unprinted: SdsMessage[] } {
    const printable = history.filter((message) => message.senderId !== participantId && message.content !== undefined && message.content.length > 0);
    const tracking = orThrow(store.getChannelSetting(channelId, TRACKING_SETTING)) !== undefined;
    const stored = tracking ? orThrow(store.listChannelSettings(channelId, MARK_PREFIX)) : [];
    const outputRow = tracking ? orThrow(store.getChannelSetting(channelId, OUTPUT_SETTING)) : undefined;
    const marks = new PrintedMarks(store, channelId, Math.max(1000, 2 * historyEntriesMax), parsePosition(outputRow));
    const inHistory = new Set(history.map((message) => message.messageId));
    const changes: Array<[string, Uint8Array | undefined]> = [];
    for (const [name] of stored) {
      const messageId = name.slice(MARK_PREFIX.length);
      if (inHistory.has(messageId)) marks.marked.add(messageId);
      else changes.push([name, undefined]);
    }
    if (!tracking) {
      for (const message of printable) {
        marks.marked.add(message.messageId);
        changes.push([MARK_PREFIX + message.messageId, EMPTY]);
      }
      changes.push([TRACKING_SETTING, textEncoder.encode("1")]);
    }
    orThrow(store.putChannelSettings(channelId, changes, "process"));
    return { marks, unprinted: printable.filter((message) => !marks.marked.has(message.messageId)) };
  }

  /** True when `messageId` is marked printed. */
  has(messageId: string): boolean {
    return this.marked.has(messageId);
  }

  /**
   * Marks messages printed (or resolved without output, e.g. lost in reassembly), with the
   * output's end when it is a regular file. One transaction.
   * @throws StoreError when the store fails (the caller reports it; the lines were printed).
   */
  mark(messageIds: readonly string[], output?: OutputPosition): void {
    const changes: Array<[string, Uint8Array | undefined]> = [];
    for (const messageId of messageIds) {
      if (this.marked.has(messageId)) continue;
      this.marked.add(messageId);
      changes.push([MARK_PREFIX + messageId, EMPTY]);
    }
    for (const messageId of this.marked) {
      if (this.marked.size <= this.marksMax) break;
      this.marked.delete(messageId);
      changes.push([MARK_PREFIX + messageId, undefined]);
    }
    if (output !== undefined) changes.push([OUTPUT_SETTING, textEncoder.encode(JSON.stringify(output))]);
    orThrow(this.store.putChannelSettings(this.channelId, changes, "process"));
  }
}

function parsePosition(bytes: Uint8Array | undefined): OutputPosition | undefined {
  if (bytes === undefined) return undefined;
  try {
    const value = JSON.parse(textDecoder.decode(bytes)) as Partial<OutputPosition>;
    if (typeof value.dev === "number" && typeof value.ino === "number" && typeof value.sizeBytes === "number") return { dev: value.dev, ino: value.ino, sizeBytes: value.sizeBytes };
  } catch {
    // an unreadable position only means no file check on this start
  }
  return undefined;
}

/** The end of file descriptor `fd` when it is a regular file, else undefined (pipe, TTY, socket). */
export function outputPosition(fd: number): OutputPosition | undefined {
  try {
    const stat = fstatSync(fd);
    return stat.isFile() ? { dev: stat.dev, ino: stat.ino, sizeBytes: stat.size } : undefined;
  } catch {
    return undefined;
  }
}

/** One message to print again: its output bytes and every SDS message id it came in. */
export interface ReprintEntry {
  bytes: Uint8Array;
  messageIds: readonly string[];
}

/** What a reprint does: write `write` (in order), then mark `messageIds`. */
export interface ReprintPlan {
  write: Uint8Array[];
  /** Ids to mark: those of entries written, completed, or already held whole by the file. */
  messageIds: string[];
  /** Entries written (a completed partial line counts). */
  written: number;
  /** Entries the file already holds whole (printed by the run that was killed). */
  skipped: number;
}

/**
 * Plans printing `entries` again on output `fd`, at most `limit` of them (the rest stay
 * unmarked for the next run). When fd is the same regular file as at the last mark and it grew
 * since, the bytes it grew by are what the killed run printed but could not mark. They are
 * matched entry by entry, in any order (the killed run printed in delivery order, the reprint
 * is in lamport order), a final partial line by its prefix: matched entries are not written
 * again, and a partial one is completed first. Reads the file through /proc/self/fd (the
 * output descriptor itself is write-only).
 */
export function planReprint(fd: number, last: OutputPosition | undefined, entries: readonly ReprintEntry[], limit = Number.POSITIVE_INFINITY): ReprintPlan {
  const { matched, partial } = matchFileTail(fd, last, entries.map((entry) => entry.bytes));
  const plan: ReprintPlan = { write: [], messageIds: [], written: 0, skipped: matched.size };
  if (partial !== undefined) {
    const entry = entries[partial.index] as ReprintEntry;
    plan.write.push(entry.bytes.subarray(partial.bytes));
    plan.messageIds.push(...entry.messageIds);
    plan.written += 1;
  }
  entries.forEach((entry, index) => {
    if (matched.has(index)) plan.messageIds.push(...entry.messageIds);
    else if (index !== partial?.index && plan.written < limit) {
      plan.write.push(entry.bytes);
      plan.messageIds.push(...entry.messageIds);
      plan.written += 1;
    }
  });
  return plan;
}

/** Which of `chunks` the file behind `fd` grew by since `last` (see {@link planReprint}). */
function matchFileTail(fd: number, last: OutputPosition | undefined, chunks: readonly Uint8Array[]): { matched: Set<number>; partial?: { index: number; bytes: number } } {
  const matched = new Set<number>();
  const now = outputPosition(fd);
  if (chunks.length === 0 || last === undefined || now === undefined || now.dev !== last.dev || now.ino !== last.ino || now.sizeBytes <= last.sizeBytes) return { matched };
  const totalBytes = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const tail = readAt(fd, last.sizeBytes, Math.min(now.sizeBytes - last.sizeBytes, totalBytes));
  if (tail === undefined) return { matched };
  let at = 0;
  while (at < tail.length) {
    const rest = tail.length - at;
    let found = -1;
    for (let index = 0; index < chunks.length && found < 0; index += 1) {
      const chunk = chunks[index] as Uint8Array;
      const length = Math.min(chunk.length, rest);
      if (!matched.has(index) && length > 0 && tail.subarray(at, at + length).equals(chunk.subarray(0, length))) found = index;
    }
    if (found < 0) break;
    const chunk = chunks[found] as Uint8Array;
    if (chunk.length > rest) return { matched, partial: { index: found, bytes: rest } };
    matched.add(found);
    at += chunk.length;
  }
  return { matched };
}

function readAt(fd: number, position: number, length: number): Buffer | undefined {
  const bytes = Buffer.alloc(length);
  let reader: number | undefined;
  try {
    reader = openSync(`/proc/self/fd/${fd}`, "r");
    let read = 0;
    while (read < length) {
      const got = readSync(reader, bytes, read, length - read, position + read);
      if (got === 0) return undefined;
      read += got;
    }
    return bytes;
  } catch {
    return undefined;
  } finally {
    if (reader !== undefined) closeSync(reader);
  }
}

/** Where a test makes `listen` kill itself (SIGKILL) while printing its Nth batch. */
export interface PrintCrashPoint {
  at: "before-write" | "mid-write" | "after-write";
  batch: number;
}

/**
 * Reads the test-only `SDS_TEST_CRASH_LISTEN=<before-write|mid-write|after-write>:<batch>`
 * setting: real-process tests use it to land a kill inside each window of the print path
 * (after the commit and before the write, inside the write, after the write and before the
 * mark), which a kill from outside hits only by chance.
 */
export function printCrashPoint(env: NodeJS.ProcessEnv): PrintCrashPoint | undefined {
  const match = /^(before-write|mid-write|after-write):(\d+)$/.exec(env.SDS_TEST_CRASH_LISTEN ?? "");
  if (match === null) return undefined;
  return { at: match[1] as PrintCrashPoint["at"], batch: Number(match[2]) };
}
