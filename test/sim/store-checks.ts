/**
 * Checks on what the peers' stores hold at the end of a run (and at restarts): S5 the local log
 * is ordered by (lamport, id), S6 sync and ephemeral messages are never logged, S11 every
 * buffer and the history stay within their caps, and S9 (at a restart) a crash inside a
 * transaction left the store exactly as it was before the commit.
 */
import { defaultConfig } from "../../src/core/protocol/config.js";
import type { ChannelData, Persistence } from "../../src/core/store/contract.js";
import type { Counters } from "./counters.js";
import type { EventLog } from "./history.js";
import type { WorldParams } from "./scenarios.js";
import type { Violations } from "./violations.js";

/** One peer's stored state of one channel. */
export interface StoreSnapshot {
  peer: string;
  channel: string;
  data: ChannelData | undefined;
}

function compare(a: { lamportTimestamp?: bigint; messageId: string }, b: { lamportTimestamp?: bigint; messageId: string }): number {
  const left = a.lamportTimestamp ?? 0n;
  const right = b.lamportTimestamp ?? 0n;
  if (left !== right) return left < right ? -1 : 1;
  return a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0;
}

/** S5, S6 (logging side) and S11 over every snapshot. */
export function checkStores(snapshots: readonly StoreSnapshot[], events: EventLog, params: WorldParams, violations: Violations, counters: Counters): void {
  const neverLogged = new Set<string>();
  events.forEachFrom(0, (event) => {
    if (event.k === "send" && event.ephemeral) neverLogged.add(event.id);
    if (event.k === "wire" && event.kind === "sync") neverLogged.add(event.id);
  });
  const caps = { ...defaultConfig(params.dialect), ...params.config };
  for (const { peer, channel, data } of snapshots) {
    if (data === undefined) continue;
    const where = `${peer}/${channel}`;
    counters.max("store.history.max", data.history.length);
    counters.max("store.incoming.max", data.meta.incomingBuffer.length);
    for (let index = 1; index < data.history.length; index += 1) {
      if (compare(data.history[index - 1] as ChannelData["history"][number], data.history[index] as ChannelData["history"][number]) >= 0) {
        violations.report("S5", `${where} history out of (lamport, id) order at position ${index}`);
        break;
      }
    }
    for (const message of data.history) {
      if (neverLogged.has(message.messageId)) violations.report("S6", `${where} logged sync or ephemeral message ${message.messageId}`);
    }
    const sizes: Array<[string, number, number]> = [
      ["history", data.history.length, caps.historyEntriesMax],
      ["incoming", data.meta.incomingBuffer.length, caps.incomingBufferEntriesMax],
      ["outgoing", data.meta.outgoingBuffer.length, caps.outgoingBufferEntriesMax],
      ["outgoingRepair", data.meta.outgoingRepairBuffer.length, caps.repairBufferEntriesMax],
      ["incomingRepair", data.meta.incomingRepairBuffer.length, caps.repairBufferEntriesMax],
    ];
    for (const [name, size, cap] of sizes) {
      if (size > cap) violations.report("S11", `${where} ${name} holds ${size} entries, cap ${cap}`);
    }
  }
}

/** What the running engine holds, in the shape `compareWithStore` needs. */
export interface EngineView {
  history: ReadonlySet<string>;
  outgoing: ReadonlySet<string>;
  buffered: number;
}

/**
 * S8 (persistence round-trip, sampled): after a committed operation the store holds exactly
 * what the engine holds (history ids, unacknowledged ids, buffered entry count). Returns a
 * description of the first difference, or undefined.
 */
export function compareWithStore(view: EngineView, data: ChannelData | undefined): string | undefined {
  const history = new Set((data?.history ?? []).map((message) => message.messageId));
  const outgoing = new Set((data?.meta.outgoingBuffer ?? []).map((entry) => entry.message.messageId));
  const buffered = (data?.meta.incomingBuffer.length ?? 0) + (data?.meta.outgoingRepairBuffer.length ?? 0) + (data?.meta.incomingRepairBuffer.length ?? 0);
  const differs = (a: ReadonlySet<string>, b: ReadonlySet<string>): string | undefined => {
    for (const id of a) if (!b.has(id)) return id;
    for (const id of b) if (!a.has(id)) return id;
    return undefined;
  };
  const historyDiff = differs(view.history, history);
  if (historyDiff !== undefined) return `history differs at ${historyDiff} (memory ${view.history.size}, store ${history.size})`;
  const outgoingDiff = differs(view.outgoing, outgoing);
  if (outgoingDiff !== undefined) return `outgoing buffer differs at ${outgoingDiff}`;
  if (view.buffered !== buffered) return `buffered entries: memory ${view.buffered}, store ${buffered}`;
  return undefined;
}

/** S9: a crash inside a transaction left the reopened store exactly as it was before the commit. */
export async function checkTornCommit(peerId: string, store: { persistence: Persistence }, expected: Map<string, string>, violations: Violations, counters: Counters): Promise<void> {
  const { canonicalChannel } = await import("./sqlite-backing.js");
  for (const [channelId, before] of expected) {
    const loaded = await store.persistence.loadChannel(channelId);
    counters.add("check.s9.torn-commit-channels");
    if (!loaded.ok) {
      violations.report("S9", `${peerId}/${channelId}: the store would not load after a crash inside a transaction: ${loaded.error.message}`);
    } else if (canonicalChannel(loaded.value) !== before) {
      violations.report("S9", `${peerId}/${channelId}: a crash inside a transaction left part of it in the store (state differs from before the commit)`);
    }
  }
}
