/**
 * Reads one channel's rows back into `ChannelData`, checking every row on the way: frames
 * and checksums, decoding, and that a row's key names the channel and message its bytes
 * hold. Both layouts are read: ours (small `sds.meta` plus one row per buffer entry) and the
 * foreign one (nim / logos-delivery: whole buffers inside the `sds.meta` blob). The same
 * reader serves `loadChannel` (stop at the first problem) and `inspect-db` (collect all).
 */
import { DecodeError } from "../errors.js";
import type { SdsMessage } from "../protocol/types.js";
import { decodeMessage } from "../protocol/wire/index.js";
import type { ChannelData, ChannelMeta } from "./contract.js";
import { decodeStringKey } from "./keys.js";
import { BLOOM_IN_ROWS, readBloom, readWireBloom } from "./bloom-rows.js";
import { BUFFER_CATEGORIES, CATEGORY, aboutKey, channelKey, checkSum, unframeRow } from "./rows.js";
import {
  DEFAULT_SNAPSHOT_LIMITS,
  type SnapshotLimits,
  applyAbsenceFlags,
  decodeChannelMeta,
  decodeIncoming,
  decodeIncomingRepair,
  decodeOutgoingRepair,
  decodeUnacknowledged,
} from "./snapshot.js";
import type { Kv, KvRow } from "./sqlite-db.js";

/** A row that failed a check. */
export interface RowProblem {
  category: string;
  /** The row key, hex. */
  key: string;
  channelId: string;
  reason: string;
  /** The row can be set aside (quarantined) by repair; false for a damaged checksum row whose data row is fine. */
  quarantine: boolean;
}

/** What a read found, besides the data. */
export interface ChannelReadReport {
  problems: RowProblem[];
  /** The `sds.meta` blob held whole buffers (a nim / logos-delivery file). */
  foreignBuffers: boolean;
  /** Largest insertion sequence seen in our buffer rows (0 when none). */
  sequenceMax: bigint;
  /** History rows without checksums in a file that has them (adopted foreign rows have them too). */
  rowsChecked: number;
}

/** Options of {@link readChannel}. */
export interface ReadChannelOptions {
  /** Checksum rows are expected for `sds.*` rows (our format marker is present). */
  sumsExpected: boolean;
  /** Stop at the first problem (load) or collect them all (inspect). */
  stopAtFirstProblem: boolean;
  limits?: SnapshotLimits;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

class FirstProblem extends Error {}

function emptyMeta(): ChannelMeta {
  return { schemaVersion: 1, lamportTimestamp: 0n, outgoingBuffer: [], incomingBuffer: [], outgoingRepairBuffer: [], incomingRepairBuffer: [] };
}

function describe(error: unknown): string {
  if (error instanceof DecodeError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/** Sorts history oldest first by (lamport, messageId), as nim-sds requires. */
export function sortHistory(history: SdsMessage[]): SdsMessage[] {
  return history.sort((a, b) => {
    const la = a.lamportTimestamp ?? 0n;
    const lb = b.lamportTimestamp ?? 0n;
    if (la !== lb) return la < lb ? -1 : 1;
    return Buffer.compare(Buffer.from(a.messageId), Buffer.from(b.messageId));
  });
}

/** The message id named by a `key(channelId, messageId)` row key, if it is one of `channelId`. */
function keyMessageId(rowKey: Uint8Array, channelId: string): string | undefined {
  const parts = decodeStringKey(rowKey, 2);
  if (parts === undefined || parts.length !== 2 || parts[0] !== channelId) return undefined;
  return parts[1];
}

/** Sum rows of one `sds.*` category and channel, by data-row key (hex). */
function sumsByKey(kv: Kv, category: string, channelId: string): Map<string, Uint8Array> {
  const prefix = aboutKey(category, new Uint8Array());
  const out = new Map<string, Uint8Array>();
  for (const row of kv.scanPrefix(CATEGORY.sum, aboutKey(category, channelKey(channelId)))) out.set(hex(row.key.subarray(prefix.length)), row.payload);
  return out;
}

interface Reader {
  kv: Kv;
  channelId: string;
  options: ReadChannelOptions;
  report: ChannelReadReport;
}

function problem(reader: Reader, category: string, rowKey: Uint8Array, reason: string, quarantine = true): void {
  reader.report.problems.push({ category, key: hex(rowKey), channelId: reader.channelId, reason, quarantine });
  if (reader.options.stopAtFirstProblem) throw new FirstProblem(reason);
}

function readMeta(reader: Reader): ChannelMeta | undefined {
  const { kv, channelId, options } = reader;
  const rowKey = channelKey(channelId);
  const payload = kv.get(CATEGORY.meta, rowKey);
  if (payload === undefined) return undefined;
  if (options.sumsExpected) {
    const check = checkSum(CATEGORY.meta, rowKey, payload, kv.get(CATEGORY.sum, aboutKey(CATEGORY.meta, rowKey)));
    if (!check.ok) {
      problem(reader, check.sumRowBad ? CATEGORY.sum : CATEGORY.meta, check.sumRowBad ? aboutKey(CATEGORY.meta, rowKey) : rowKey, `sds.meta of ${channelId}: ${check.reason}`, !check.sumRowBad);
      if (!check.sumRowBad) return emptyMeta();
    }
  }
  try {
    return decodeChannelMeta(payload, options.limits ?? DEFAULT_SNAPSHOT_LIMITS);
  } catch (error) {
    if (error instanceof FirstProblem) throw error;
    problem(reader, CATEGORY.meta, rowKey, `sds.meta of ${channelId} does not decode: ${describe(error)}`);
    return emptyMeta();
  }
}

function readHistory(reader: Reader): SdsMessage[] {
  const { kv, channelId, options } = reader;
  const sums = options.sumsExpected ? sumsByKey(kv, CATEGORY.log, channelId) : undefined;
  const history: SdsMessage[] = [];
  const bases = new Map<bigint, Uint8Array | string>();
  for (const row of kv.scanPrefix(CATEGORY.log, channelKey(channelId))) {
    reader.report.rowsChecked += 1;
    let flags = 0;
    if (sums !== undefined) {
      const rowHex = hex(row.key);
      const check = checkSum(CATEGORY.log, row.key, row.payload, sums.get(rowHex));
      sums.delete(rowHex);
      if (!check.ok) {
        problem(reader, check.sumRowBad ? CATEGORY.sum : CATEGORY.log, check.sumRowBad ? aboutKey(CATEGORY.log, row.key) : row.key, `sds.log row: ${check.reason}`, !check.sumRowBad);
        if (!check.sumRowBad) continue;
      } else flags = check.flags;
    }
    const message = decodeLogRow(reader, row);
    if (message === undefined) continue;
    if ((flags & BLOOM_IN_ROWS) === 0) {
      history.push(applyAbsenceFlags(message, flags));
      continue;
    }
    const bloom = readBloom(kv, channelId, message.messageId, bases);
    if (!bloom.ok) problem(reader, bloom.category, bloom.rowKey, bloom.reason);
    else history.push({ ...applyAbsenceFlags(message, flags), bloomFilter: bloom.bloom });
  }
  for (const orphan of sums?.keys() ?? []) problem(reader, CATEGORY.sum, aboutKey(CATEGORY.log, Buffer.from(orphan, "hex")), "checksum row without its sds.log row");
  return sortHistory(history);
}

function decodeLogRow(reader: Reader, row: KvRow): SdsMessage | undefined {
  const expectedId = keyMessageId(row.key, reader.channelId);
  if (expectedId === undefined) {
    problem(reader, CATEGORY.log, row.key, "sds.log key is not key(channelId, messageId)");
    return undefined;
  }
  let message: SdsMessage;
  try {
    message = decodeMessage(row.payload, { dialect: "nim", ...(reader.options.limits?.message ? { limits: reader.options.limits.message } : {}) });
  } catch (error) {
    problem(reader, CATEGORY.log, row.key, `sds.log message ${expectedId} does not decode: ${describe(error)}`);
    return undefined;
  }
  if (message.messageId !== expectedId || message.channelId !== reader.channelId) {
    problem(reader, CATEGORY.log, row.key, `sds.log row keyed ${reader.channelId}/${expectedId} holds message ${message.channelId}/${message.messageId}`);
    return undefined;
  }
  return message;
}

type BufferEntry = { id: string; sequence: bigint; value: unknown };

function readBuffer(reader: Reader, category: (typeof BUFFER_CATEGORIES)[number], history: ReadonlyMap<string, SdsMessage>): BufferEntry[] {
  const entries: BufferEntry[] = [];
  const limits = reader.options.limits ?? DEFAULT_SNAPSHOT_LIMITS;
  for (const row of reader.kv.scanPrefix(category, channelKey(reader.channelId))) {
    reader.report.rowsChecked += 1;
    const expectedId = keyMessageId(row.key, reader.channelId);
    const opened = unframeRow(category, row.key, row.payload);
    if (!opened.ok) {
      problem(reader, category, row.key, `${category} row: ${opened.reason}`);
      continue;
    }
    if (expectedId === undefined) {
      problem(reader, category, row.key, `${category} key is not key(channelId, messageId)`);
      continue;
    }
    try {
      const resolveWireBloom = (inlineDiff?: Uint8Array) => readWireBloom(reader.kv, reader.channelId, expectedId, inlineDiff);
      const ctx = { base: 0, limits, resolveMessage: () => history.get(expectedId), resolveWireBloom };
      let value: unknown;
      let id: string;
      if (category === CATEGORY.outgoing) id = ((value = decodeUnacknowledged(opened.body, 0, category, ctx)) as { message: SdsMessage }).message.messageId;
      else if (category === CATEGORY.incoming) id = ((value = decodeIncoming(opened.body, 0, category, ctx)) as { message: SdsMessage }).message.messageId;
      else if (category === CATEGORY.outgoingRepair) id = (value = decodeOutgoingRepair(opened.body, 0, category)).entry.messageId;
      else id = (value = decodeIncomingRepair(opened.body, 0, category)).entry.messageId;
      if (id !== expectedId) {
        problem(reader, category, row.key, `${category} row keyed ${expectedId} holds ${id}`);
        continue;
      }
      if (opened.sequence > reader.report.sequenceMax) reader.report.sequenceMax = opened.sequence;
      entries.push({ id, sequence: opened.sequence, value });
    } catch (error) {
      if (error instanceof FirstProblem) throw error;
      problem(reader, category, row.key, `${category} row ${expectedId} does not decode: ${describe(error)}`);
    }
  }
  return entries.sort((a, b) => (a.sequence < b.sequence ? -1 : a.sequence > b.sequence ? 1 : 0));
}

/** Merges a foreign blob's buffer (first, in blob order) with our rows (by sequence); rows win on the same id. */
function merge<T>(fromBlob: T[], idOf: (value: T) => string, rows: BufferEntry[]): T[] {
  const rowIds = new Set(rows.map((row) => row.id));
  return [...fromBlob.filter((value) => !rowIds.has(idOf(value))), ...rows.map((row) => row.value as T)];
}

function readHints(reader: Reader): Map<string, Uint8Array> {
  const hints = new Map<string, Uint8Array>();
  for (const row of reader.kv.scanPrefix(CATEGORY.hint, channelKey(reader.channelId))) {
    reader.report.rowsChecked += 1;
    const opened = unframeRow(CATEGORY.hint, row.key, row.payload);
    const id = keyMessageId(row.key, reader.channelId);
    if (!opened.ok || id === undefined) problem(reader, CATEGORY.hint, row.key, `sdstk.hint row: ${opened.ok ? "bad key" : opened.reason}`);
    else hints.set(id, opened.body.slice());
  }
  return hints;
}

/**
 * Reads a channel. Returns `data: undefined` when the channel has no `sds.meta` row and no
 * rows of ours. With `stopAtFirstProblem`, `report.problems` has at most one entry and
 * `data` is undefined when it does.
 */
export function readChannel(kv: Kv, channelId: string, options: ReadChannelOptions): { data: ChannelData | undefined; report: ChannelReadReport } {
  const report: ChannelReadReport = { problems: [], foreignBuffers: false, sequenceMax: 0n, rowsChecked: 0 };
  const reader: Reader = { kv, channelId, options, report };
  try {
    const stored = readMeta(reader);
    const history = readHistory(reader);
    const byId = new Map(history.map((message) => [message.messageId, message]));
    const buffers = BUFFER_CATEGORIES.map((category) => readBuffer(reader, category, byId));
    const hints = readHints(reader);
    const anyRows = history.length > 0 || buffers.some((rows) => rows.length > 0) || hints.size > 0;
    if (stored === undefined && !anyRows) return { data: undefined, report };
    const blob = stored ?? emptyMeta();
    report.foreignBuffers = blob.outgoingBuffer.length + blob.incomingBuffer.length + blob.outgoingRepairBuffer.length + blob.incomingRepairBuffer.length > 0;
    const [outgoing, incoming, outgoingRepair, incomingRepair] = buffers as [BufferEntry[], BufferEntry[], BufferEntry[], BufferEntry[]];
    const meta: ChannelMeta = {
      schemaVersion: 1,
      lamportTimestamp: blob.lamportTimestamp,
      outgoingBuffer: merge(blob.outgoingBuffer, (value) => value.message.messageId, outgoing),
      incomingBuffer: merge(blob.incomingBuffer, (value) => value.message.messageId, incoming),
      outgoingRepairBuffer: merge(blob.outgoingRepairBuffer, (value) => value.entry.messageId, outgoingRepair),
      incomingRepairBuffer: merge(blob.incomingRepairBuffer, (value) => value.entry.messageId, incomingRepair),
    };
    const data: ChannelData = { meta, history };
    if (hints.size > 0) data.retrievalHints = hints;
    if (stored === undefined) problem(reader, CATEGORY.meta, channelKey(channelId), `channel ${channelId} has rows but no sds.meta row`, false);
    return { data, report };
  } catch (error) {
    if (error instanceof FirstProblem) return { data: undefined, report };
    throw error;
  }
}
