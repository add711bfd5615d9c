/**
 * A minimal in-memory `Persistence` owned by the simulator: the model the real stores are
 * compared against, and a fallback "disk" for runs that need no SQLite. It applies a commit's
 * deltas atomically (copy, apply, swap), keeps history ordered by (lamport, id) and deep-copies
 * on the way in and out, so no engine object is ever shared with the "disk".
 */
import { type Result, ok } from "../../src/core/errors.js";
import type { ChannelData, ChannelDelta, ChannelMeta, HistoryUpdate, Persistence } from "../../src/core/store/contract.js";
import type { SdsMessage } from "../../src/core/protocol/types.js";

interface Stored {
  meta: ChannelMeta;
  history: Map<string, SdsMessage>;
  hints: Map<string, Uint8Array>;
}

function emptyMeta(): ChannelMeta {
  return { schemaVersion: 1, lamportTimestamp: 0n, outgoingBuffer: [], incomingBuffer: [], outgoingRepairBuffer: [], incomingRepairBuffer: [] };
}

function upsertById<T>(list: T[], id: (item: T) => string, upserts: readonly T[], removals: readonly string[]): T[] {
  const removed = new Set(removals);
  const byId = new Map(list.filter((item) => !removed.has(id(item))).map((item) => [id(item), item] as const));
  for (const item of upserts) byId.set(id(item), structuredClone(item));
  return [...byId.values()];
}

function ordered(history: Map<string, SdsMessage>): SdsMessage[] {
  return [...history.values()].sort((a, b) => {
    const left = a.lamportTimestamp ?? 0n;
    const right = b.lamportTimestamp ?? 0n;
    if (left !== right) return left < right ? -1 : 1;
    return a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0;
  });
}

/** The simulator's model store. */
export class ModelStore implements Persistence {
  private channels = new Map<string, Stored>();
  commits = 0;

  private apply(channels: Map<string, Stored>, delta: ChannelDelta): void {
    const current = channels.get(delta.channelId) ?? { meta: emptyMeta(), history: new Map(), hints: new Map() };
    const meta = current.meta;
    const next: Stored = {
      meta: {
        schemaVersion: 1, lamportTimestamp: delta.lamportTimestamp,
        outgoingBuffer: upsertById(meta.outgoingBuffer, (item) => item.message.messageId, delta.outgoing.upsert, delta.outgoing.remove),
        incomingBuffer: upsertById(meta.incomingBuffer, (item) => item.message.messageId, delta.incoming.upsert, delta.incoming.remove),
        outgoingRepairBuffer: upsertById(meta.outgoingRepairBuffer, (item) => item.entry.messageId, delta.outgoingRepair.upsert, delta.outgoingRepair.remove),
        incomingRepairBuffer: upsertById(meta.incomingRepairBuffer, (item) => item.entry.messageId, delta.incomingRepair.upsert, delta.incomingRepair.remove),
      },
      history: new Map(current.history),
      hints: new Map(current.hints),
    };
    for (const id of delta.history.evict) next.history.delete(id);
    for (const message of delta.history.append) next.history.set(message.messageId, structuredClone(message));
    for (const { messageId, hint } of delta.retrievalHints) next.hints.set(messageId, hint.slice());
    channels.set(delta.channelId, next);
  }

  async commit(deltas: readonly ChannelDelta[]): Promise<Result<void>> {
    const channels = new Map(this.channels);
    for (const delta of deltas) this.apply(channels, delta);
    this.channels = channels;
    this.commits += 1;
    return ok(undefined);
  }

  async loadChannel(channelId: string): Promise<Result<ChannelData | undefined>> {
    const stored = this.channels.get(channelId);
    if (stored === undefined) return ok(undefined);
    return ok({ meta: structuredClone(stored.meta), history: structuredClone(ordered(stored.history)), retrievalHints: new Map(stored.hints) });
  }

  async saveChannelMeta(channelId: string, meta: ChannelMeta): Promise<Result<void>> {
    const stored = this.channels.get(channelId) ?? { meta: emptyMeta(), history: new Map(), hints: new Map() };
    this.channels.set(channelId, { ...stored, meta: structuredClone(meta) });
    return ok(undefined);
  }

  async updateHistory(channelId: string, update: HistoryUpdate): Promise<Result<void>> {
    const stored = this.channels.get(channelId) ?? { meta: emptyMeta(), history: new Map(), hints: new Map() };
    const history = new Map(stored.history);
    for (const id of update.evict) history.delete(id);
    for (const message of update.append) history.set(message.messageId, structuredClone(message));
    this.channels.set(channelId, { ...stored, history });
    return ok(undefined);
  }

  async dropChannel(channelId: string): Promise<Result<void>> {
    this.channels.delete(channelId);
    return ok(undefined);
  }

  async setRetrievalHint(channelId: string, messageId: string, hint: Uint8Array): Promise<Result<void>> {
    this.channels.get(channelId)?.hints.set(messageId, hint.slice());
    return ok(undefined);
  }

  async listChannels(): Promise<Result<string[]>> {
    return ok([...this.channels.keys()].sort());
  }

  async close(): Promise<void> {}
}
