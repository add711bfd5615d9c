/**
 * The row pass of `inspect-db`: every row of every category is checked once — key shape,
 * frame or checksum row, decoding, and that the key names what the bytes hold — and the
 * decoded values are gathered per channel for the summary. Nothing here throws on bad
 * bytes: a bad row becomes a {@link RowProblem} with a suggested repair action.
 */
import { DecodeError } from "../errors.js";
import type { SdsMessage } from "../protocol/types.js";
import { decodeMessage } from "../protocol/wire/index.js";
import type { ChannelMeta, IncomingMessage, IncomingRepairEntry, OutgoingRepairEntry, UnacknowledgedMessage } from "./contract.js";
import { decodeStringKey } from "./keys.js";
import { checkBases } from "./inspect-bases.js";
import { CATEGORY, FORMAT_SETTING, SUM_ROW_BYTES, aboutKey, checkSum, unframeRow } from "./rows.js";
import { applyAbsenceFlags, decodeChannelMeta, decodeChannelMetaExtras, decodeIncoming, decodeIncomingRepair, decodeOutgoingRepair, decodeUnacknowledged } from "./snapshot.js";
import { globalSettingKey } from "./sqlite.js";
import type { Kv, KvRow } from "./sqlite-db.js";
import { ProtoReader } from "../protocol/wire/proto.js";
import { decodeBloomDiff } from "./bloom-diff.js";
import { BLOOM_IN_ROWS, readBloom, readWireBloom } from "./bloom-rows.js";

/** What repair would do about a problem row. */
export type RepairAction = "quarantine" | "rebuild-sum" | "delete" | "rebuild-meta" | "rebuild-counter";

/** One row that failed a check. */
export interface InspectProblem {
  category: string;
  /** Row key, hex. */
  key: string;
  channelId: string | undefined;
  reason: string;
  action: RepairAction;
}

/** Everything decoded about one channel. */
export interface ChannelRows {
  channelId: string;
  meta: ChannelMeta | undefined;
  /** The `sds.meta` blob itself held buffers (a nim / logos-delivery file). */
  blobBuffers: boolean;
  history: SdsMessage[];
  outgoing: Array<{ sequence: bigint; value: UnacknowledgedMessage }>;
  incoming: Array<{ sequence: bigint; value: IncomingMessage }>;
  outgoingRepair: Array<{ sequence: bigint; value: OutgoingRepairEntry }>;
  incomingRepair: Array<{ sequence: bigint; value: IncomingRepairEntry }>;
  hints: number;
  nextSequence: bigint | undefined;
}

/** The result of the row pass. */
export interface RowPass {
  /** Our format marker is present: `sds.*` rows must have checksum rows. */
  ours: boolean;
  channels: Map<string, ChannelRows>;
  problems: InspectProblem[];
  rowCounts: Record<string, number>;
  quarantined: number;
  unknownCategories: string[];
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const DATA_CATEGORIES = new Set<string>([CATEGORY.meta, CATEGORY.log]);

function describe(error: unknown): string {
  return error instanceof DecodeError ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
}

function channelRows(pass: RowPass, channelId: string): ChannelRows {
  let rows = pass.channels.get(channelId);
  if (rows === undefined) {
    rows = { channelId, meta: undefined, blobBuffers: false, history: [], outgoing: [], incoming: [], outgoingRepair: [], incomingRepair: [], hints: 0, nextSequence: undefined };
    pass.channels.set(channelId, rows);
  }
  return rows;
}

function add(pass: RowPass, category: string, row: KvRow, channelId: string | undefined, reason: string, action: RepairAction = "quarantine"): void {
  pass.problems.push({ category, key: hex(row.key), channelId, reason, action });
}

/** Checks the checksum row of an `sds.*` row; true when the data row may be used. */
function sumOk(kv: Kv, pass: RowPass, category: string, row: KvRow, channelId: string): boolean {
  if (!pass.ours) return true;
  const sumKey = new Uint8Array([...keyPrefix(category), ...row.key]);
  const check = checkSum(category, row.key, row.payload, kv.get(CATEGORY.sum, sumKey));
  if (check.ok) return true;
  if (check.sumRowBad) {
    add(pass, category, row, channelId, `${check.reason}; the data row will be re-checksummed if it decodes`, "rebuild-sum");
    return true;
  }
  add(pass, category, row, channelId, check.reason);
  return false;
}

function keyPrefix(category: string): Uint8Array {
  const bytes = new TextEncoder().encode(category);
  return Uint8Array.from([bytes.length >> 8, bytes.length & 0xff, ...bytes]);
}

function checkMetaRow(kv: Kv, pass: RowPass, row: KvRow): void {
  const parts = decodeStringKey(row.key, 1);
  if (parts?.length !== 1) return add(pass, CATEGORY.meta, row, undefined, "sds.meta key is not toKey(channelId)");
  const channelId = parts[0] as string;
  const rows = channelRows(pass, channelId);
  if (!sumOk(kv, pass, CATEGORY.meta, row, channelId)) return;
  try {
    rows.meta = decodeChannelMeta(row.payload);
    rows.nextSequence = decodeChannelMetaExtras(row.payload).nextSequence;
    rows.blobBuffers = rows.meta.outgoingBuffer.length + rows.meta.incomingBuffer.length + rows.meta.outgoingRepairBuffer.length + rows.meta.incomingRepairBuffer.length > 0;
  } catch (error) {
    add(pass, CATEGORY.meta, row, channelId, `ChannelMeta does not decode: ${describe(error)}`);
  }
}

function checkLogRow(kv: Kv, pass: RowPass, row: KvRow): void {
  const parts = decodeStringKey(row.key, 2);
  if (parts?.length !== 2) return add(pass, CATEGORY.log, row, undefined, "sds.log key is not key(channelId, messageId)");
  const [channelId, messageId] = parts as [string, string];
  if (!sumOk(kv, pass, CATEGORY.log, row, channelId)) return;
  try {
    let message = decodeMessage(row.payload, { dialect: "nim" });
    if (message.channelId !== channelId || message.messageId !== messageId) {
      return add(pass, CATEGORY.log, row, channelId, `row keyed ${channelId}/${messageId} holds message ${message.channelId}/${message.messageId}`);
    }
    if ((storedFlags(kv, row) & BLOOM_IN_ROWS) !== 0) {
      const bloom = readBloom(kv, channelId, messageId);
      if (!bloom.ok) return add(pass, CATEGORY.log, row, channelId, `the message's bloom filter cannot be rebuilt: ${bloom.reason}`);
      message = { ...message, bloomFilter: bloom.bloom };
    }
    channelRows(pass, channelId).history.push(message);
  } catch (error) {
    add(pass, CATEGORY.log, row, channelId, `message does not decode: ${describe(error)}`);
  }
}

/** The absence flags of a log row's checksum row when it checks out (0 otherwise). */
function storedFlags(kv: Kv, row: KvRow): number {
  const check = checkSum(CATEGORY.log, row.key, row.payload, kv.get(CATEGORY.sum, aboutKey(CATEGORY.log, row.key)));
  return check.ok ? check.flags : 0;
}

/** The message of an `sds.log` row (same key), if it passes its checks; for outgoing rows that refer to it. */
function loggedMessage(kv: Kv, rowKey: Uint8Array): SdsMessage | undefined {
  const payload = kv.get(CATEGORY.log, rowKey);
  if (payload === undefined) return undefined;
  const sum = kv.get(CATEGORY.sum, aboutKey(CATEGORY.log, rowKey));
  const check = checkSum(CATEGORY.log, rowKey, payload, sum);
  if (sum !== undefined && !check.ok) return undefined;
  try {
    const flags = check.ok ? check.flags : 0;
    const message = applyAbsenceFlags(decodeMessage(payload, { dialect: "nim" }), flags);
    if ((flags & BLOOM_IN_ROWS) === 0) return message;
    const parts = decodeStringKey(rowKey, 2);
    const bloom = parts?.length === 2 ? readBloom(kv, parts[0] as string, parts[1] as string) : undefined;
    return bloom?.ok === true ? { ...message, bloomFilter: bloom.bloom } : undefined;
  } catch {
    return undefined;
  }
}

function checkBufferRow(kv: Kv, pass: RowPass, category: string, row: KvRow): void {
  const parts = decodeStringKey(row.key, 2);
  const channelId = parts?.length === 2 ? parts[0] : undefined;
  const opened = unframeRow(category, row.key, row.payload);
  if (!opened.ok) return add(pass, category, row, channelId, opened.reason);
  if (channelId === undefined) return add(pass, category, row, undefined, "key is not key(channelId, messageId)");
  const messageId = (parts as [string, string])[1];
  const rows = channelRows(pass, channelId);
  const resolveWireBloom = (inlineDiff?: Uint8Array) => readWireBloom(kv, channelId, messageId, inlineDiff);
  const ctx = { base: 0, limits: { bufferEntriesMax: 100_000, historyEntriesMax: 100_000 }, resolveMessage: () => loggedMessage(kv, row.key), resolveWireBloom };
  try {
    if (category === CATEGORY.outgoing) rows.outgoing.push({ sequence: opened.sequence, value: decodeUnacknowledged(opened.body, 0, category, ctx) });
    else if (category === CATEGORY.incoming) rows.incoming.push({ sequence: opened.sequence, value: decodeIncoming(opened.body, 0, category, ctx) });
    else if (category === CATEGORY.outgoingRepair) rows.outgoingRepair.push({ sequence: opened.sequence, value: decodeOutgoingRepair(opened.body, 0, category) });
    else rows.incomingRepair.push({ sequence: opened.sequence, value: decodeIncomingRepair(opened.body, 0, category) });
  } catch (error) {
    return add(pass, category, row, channelId, `entry does not decode: ${describe(error)}`);
  }
  const list = [rows.outgoing, rows.incoming, rows.outgoingRepair, rows.incomingRepair][[CATEGORY.outgoing, CATEGORY.incoming, CATEGORY.outgoingRepair, CATEGORY.incomingRepair].indexOf(category as never)] as Array<{ value: unknown }>;
  const last = list[list.length - 1]?.value as { message?: SdsMessage; entry?: { messageId: string } };
  const id = last.message?.messageId ?? last.entry?.messageId;
  if (id !== messageId) {
    list.pop();
    add(pass, category, row, channelId, `row keyed ${messageId} holds ${id}`);
  }
}

function checkFramedRow(pass: RowPass, category: string, row: KvRow): void {
  const parts = decodeStringKey(row.key, 3);
  const channelId = category === CATEGORY.hint || category === CATEGORY.channel ? parts?.[0] : undefined;
  const opened = unframeRow(category, row.key, row.payload);
  if (!opened.ok) return add(pass, category, row, channelId, opened.reason, category === CATEGORY.channel ? "rebuild-counter" : category === CATEGORY.quarantine ? "delete" : "quarantine");
  if (category === CATEGORY.quarantine) pass.quarantined += 1;
  if (category === CATEGORY.bloom || category === CATEGORY.wireBloom || category === CATEGORY.bloomBaseDelta) {
    try {
      decodeBloomDiff(opened.body);
    } catch (error) {
      return add(pass, category, row, parts?.[0], `bloom diff does not decode: ${describe(error)}`);
    }
  }
  if (category === CATEGORY.hint && channelId !== undefined) channelRows(pass, channelId).hints += 1;
  if (category === CATEGORY.channel && channelId !== undefined) {
    try {
      const reader = new ProtoReader(opened.body);
      let next = 1n;
      while (!reader.eof()) {
        const tag = reader.readTag("ChannelCounters");
        if (tag.field === 1) next = reader.readVarint("nextSequence");
        else reader.skip(tag.wireType);
      }
      const rows = channelRows(pass, channelId);
      if (rows.nextSequence === undefined) rows.nextSequence = next; // legacy counter row
    } catch (error) {
      add(pass, category, row, channelId, `counter does not decode: ${describe(error)}`, "rebuild-counter");
    }
  }
}

function checkSumRow(kv: Kv, pass: RowPass, row: KvRow): void {
  const parts = decodeStringKey(row.key.subarray(0, 2 + (((row.key[0] ?? 0) << 8) | (row.key[1] ?? 0))), 1);
  const category = parts?.[0];
  if (category === undefined || !DATA_CATEGORIES.has(category)) return add(pass, CATEGORY.sum, row, undefined, "checksum row about an unknown category", "delete");
  const dataKey = row.key.subarray(keyPrefix(category).length);
  const channelId = decodeStringKey(dataKey, 2)?.[0];
  // A damaged checksum row of an existing data row is reported by that row's check (rebuild-sum).
  if (kv.get(category, dataKey) === undefined) add(pass, CATEGORY.sum, row, channelId, `checksum row without its ${category} row${row.payload.length !== SUM_ROW_BYTES ? " (and damaged)" : ""}`, "delete");
}

/** Runs the row pass over every row of the database. */
export function inspectRows(kv: Kv): RowPass {
  const formatRow = kv.get(CATEGORY.settings, globalSettingKey(FORMAT_SETTING));
  const pass: RowPass = { ours: formatRow !== undefined, channels: new Map(), problems: [], rowCounts: {}, quarantined: 0, unknownCategories: [] };
  const categories = (kv.db.prepare("SELECT DISTINCT category FROM kv").all() as Array<{ category: Uint8Array }>).map((row) => Buffer.from(row.category).toString("utf8"));
  const known = new Set<string>(Object.values(CATEGORY));
  for (const category of categories) {
    const rows = kv.scanCategory(category);
    pass.rowCounts[category] = rows.length;
    if (!known.has(category)) {
      pass.unknownCategories.push(category);
      continue;
    }
    for (const row of rows) {
      if (category === CATEGORY.meta) checkMetaRow(kv, pass, row);
      else if (category === CATEGORY.log) checkLogRow(kv, pass, row);
      else if (category === CATEGORY.sum) checkSumRow(kv, pass, row);
      else if (category === CATEGORY.outgoing || category === CATEGORY.incoming || category === CATEGORY.outgoingRepair || category === CATEGORY.incomingRepair) checkBufferRow(kv, pass, category, row);
      else checkFramedRow(pass, category, row);
    }
  }
  checkBases(kv, pass);
  for (const rows of pass.channels.values()) for (const list of [rows.outgoing, rows.incoming, rows.outgoingRepair, rows.incomingRepair]) list.sort((a, b) => (a.sequence < b.sequence ? -1 : a.sequence > b.sequence ? 1 : 0));
  return pass;
}
