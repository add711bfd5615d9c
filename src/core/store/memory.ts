/**
 * An in-memory {@link Persistence} with the same semantics as the SQLite store: a commit
 * is all-or-nothing, buffer upserts keep an entry's place (new ones go last), history loads
 * oldest first by (lamport, id), and every value is deep-copied in and out so a caller
 * mutating its objects can never change what was "stored". For tests and the simulator.
 */
import { type Result, StoreError, err, ok } from "../errors.js";
import type { SdsMessage } from "../protocol/types.js";
import { sortHistory } from "./channel-read.js";
import type { BufferDelta, ChannelData, ChannelDelta, ChannelMeta, HistoryUpdate, Persistence } from "./contract.js";

interface StoredChannel {
  meta: ChannelMeta;
  history: Map<string, SdsMessage>;
  hints: Map<string, Uint8Array>;
}

function emptyChannel(): StoredChannel {
  return {
    meta: { schemaVersion: 1, lamportTimestamp: 0n, outgoingBuffer: [], incomingBuffer: [], outgoingRepairBuffer: [], incomingRepairBuffer: [] },
    history: new Map(),
    hints: new Map(),
  };
}

function applyBuffer<T>(list: T[], delta: BufferDelta<T>, idOf: (value: T) => string): T[] {
  if (delta.upsert.length === 0 && delta.remove.length === 0) return list;
  const index = new Map(list.map((value, at) => [idOf(value), at]));
  const out = [...list];
  for (const value of delta.upsert) {
    const at = index.get(idOf(value));
    if (at !== undefined) out[at] = value;
    else index.set(idOf(value), out.push(value) - 1);
  }
  if (delta.remove.length === 0) return out;
  const removed = new Set(delta.remove);
  return out.filter((value) => !removed.has(idOf(value)));
}

function applyHistory(channel: StoredChannel, update: HistoryUpdate): void {
  for (const message of update.append) channel.history.set(message.messageId, message);
  for (const id of update.evict) {
    channel.history.delete(id);
    channel.hints.delete(id);
  }
}

/** A Persistence kept in process memory (lost on exit). */
export class MemoryPersistence implements Persistence {
  private channels = new Map<string, StoredChannel>();
  private closed = false;
  /** Commits applied (one per `commit`/`save`/`update` call), for tests. */
  transactionsCommitted = 0;

  private check(): StoreError | undefined {
    return this.closed ? new StoreError("E_STORE_IO", "the memory store is closed") : undefined;
  }

  /**
   * Applies `change` (whose inputs were already deep-copied). Applying a delta cannot fail
   * part-way (no encoding, no I/O), so all-or-nothing holds without copying the state,
   * which keeps a commit's cost independent of the backlog here too.
   */
  private transact(change: (channels: Map<string, StoredChannel>) => void): Result<void, StoreError> {
    const closed = this.check();
    if (closed) return err(closed);
    change(this.channels);
    this.transactionsCommitted += 1;
    return ok(undefined);
  }

  private static channel(channels: Map<string, StoredChannel>, channelId: string): StoredChannel {
    let channel = channels.get(channelId);
    if (channel === undefined) {
      channel = emptyChannel();
      channels.set(channelId, channel);
    }
    return channel;
  }

  async commit(deltas: readonly ChannelDelta[]): Promise<Result<void, StoreError>> {
    if (deltas.length === 0) return ok(undefined);
    const input = structuredClone(deltas) as ChannelDelta[];
    return this.transact((channels) => {
      for (const delta of input) {
        const channel = MemoryPersistence.channel(channels, delta.channelId);
        const meta = channel.meta;
        meta.lamportTimestamp = delta.lamportTimestamp;
        meta.outgoingBuffer = applyBuffer(meta.outgoingBuffer, delta.outgoing, (value) => value.message.messageId);
        meta.incomingBuffer = applyBuffer(meta.incomingBuffer, delta.incoming, (value) => value.message.messageId);
        meta.outgoingRepairBuffer = applyBuffer(meta.outgoingRepairBuffer, delta.outgoingRepair, (value) => value.entry.messageId);
        meta.incomingRepairBuffer = applyBuffer(meta.incomingRepairBuffer, delta.incomingRepair, (value) => value.entry.messageId);
        applyHistory(channel, delta.history);
        for (const { messageId, hint } of delta.retrievalHints) channel.hints.set(messageId, hint);
      }
    });
  }

  async saveChannelMeta(channelId: string, meta: ChannelMeta): Promise<Result<void, StoreError>> {
    const copy = structuredClone(meta);
    return this.transact((channels) => {
      MemoryPersistence.channel(channels, channelId).meta = copy;
    });
  }

  async updateHistory(channelId: string, update: HistoryUpdate): Promise<Result<void, StoreError>> {
    if (update.append.length === 0 && update.evict.length === 0) return ok(undefined);
    const copy = structuredClone(update);
    return this.transact((channels) => applyHistory(MemoryPersistence.channel(channels, channelId), copy));
  }

  async setRetrievalHint(channelId: string, messageId: string, hint: Uint8Array): Promise<Result<void, StoreError>> {
    const copy = hint.slice();
    return this.transact((channels) => {
      MemoryPersistence.channel(channels, channelId).hints.set(messageId, copy);
    });
  }

  async loadChannel(channelId: string): Promise<Result<ChannelData | undefined, StoreError>> {
    const closed = this.check();
    if (closed) return err(closed);
    const channel = this.channels.get(channelId);
    if (channel === undefined) return ok(undefined);
    const copy = structuredClone(channel);
    const data: ChannelData = { meta: copy.meta, history: sortHistory([...copy.history.values()]) };
    if (copy.hints.size > 0) data.retrievalHints = copy.hints;
    return ok(data);
  }

  async dropChannel(channelId: string): Promise<Result<void, StoreError>> {
    return this.transact((channels) => {
      channels.delete(channelId);
    });
  }

  async listChannels(): Promise<Result<string[], StoreError>> {
    const closed = this.check();
    if (closed) return err(closed);
    return ok([...this.channels.keys()].sort());
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
