/**
 * Builds the persistence delta of one operation (contract `ChannelDelta`) while the engine
 * mutates channel state, with "latest wins" merging: an upsert after a removal of the same
 * id keeps the upsert and vice versa; a history append after an evict re-adds (the nim-sds R2
 * rule). The same merge folds pending deltas together under the best-effort policy.
 */
import type { BufferDelta, ChannelDelta, IncomingMessage, IncomingRepairEntry, OutgoingRepairEntry, UnacknowledgedMessage } from "../../store/contract.js";
import type { SdsMessage } from "../types.js";

/** Upserts and removals of one keyed buffer, latest wins. */
export class KeyedChanges<T> {
  readonly upserts = new Map<string, T>();
  readonly removals = new Set<string>();

  /** Records that `id` now holds `value`. */
  upsert(id: string, value: T): void {
    this.removals.delete(id);
    this.upserts.set(id, value);
  }

  /** Records that `id` was removed. */
  remove(id: string): void {
    this.upserts.delete(id);
    this.removals.add(id);
  }

  /** Folds `later` into this one (its changes win). */
  merge(later: KeyedChanges<T>): void {
    for (const id of later.removals) this.remove(id);
    for (const [id, value] of later.upserts) this.upsert(id, value);
  }

  /** `true` when nothing changed. */
  get isEmpty(): boolean {
    return this.upserts.size === 0 && this.removals.size === 0;
  }

  /** The contract shape. */
  toBufferDelta(): BufferDelta<T> {
    return { upsert: [...this.upserts.values()], remove: [...this.removals] };
  }
}

/** A channel's accumulated change, convertible to a contract `ChannelDelta`. */
export class DeltaBuilder {
  lamportTimestamp: bigint;
  readonly outgoing = new KeyedChanges<UnacknowledgedMessage>();
  readonly incoming = new KeyedChanges<IncomingMessage>();
  readonly outgoingRepair = new KeyedChanges<OutgoingRepairEntry>();
  readonly incomingRepair = new KeyedChanges<IncomingRepairEntry>();
  /** History: appended messages by id (delivery order) and evicted ids. */
  readonly history = new KeyedChanges<SdsMessage>();
  readonly retrievalHints = new Map<string, Uint8Array>();
  /** `true` when the lamport clock changed. */
  lamportChanged = false;

  constructor(readonly channelId: string, lamport: number) {
    this.lamportTimestamp = BigInt(lamport);
  }

  /** Records the channel's clock. */
  setLamport(lamport: number): void {
    const value = BigInt(lamport);
    if (value !== this.lamportTimestamp) {
      this.lamportTimestamp = value;
      this.lamportChanged = true;
    }
  }

  /** `true` when nothing needs writing. */
  get isEmpty(): boolean {
    return !this.lamportChanged && this.outgoing.isEmpty && this.incoming.isEmpty && this.outgoingRepair.isEmpty
      && this.incomingRepair.isEmpty && this.history.isEmpty && this.retrievalHints.size === 0;
  }

  /** Folds a later builder of the same channel into this one. */
  merge(later: DeltaBuilder): void {
    this.lamportTimestamp = later.lamportTimestamp;
    this.lamportChanged ||= later.lamportChanged;
    this.outgoing.merge(later.outgoing);
    this.incoming.merge(later.incoming);
    this.outgoingRepair.merge(later.outgoingRepair);
    this.incomingRepair.merge(later.incomingRepair);
    this.history.merge(later.history);
    for (const [id, hint] of later.retrievalHints) this.retrievalHints.set(id, hint);
  }

  /** The contract shape to hand to `Persistence.commit`. */
  toChannelDelta(): ChannelDelta {
    return {
      channelId: this.channelId,
      lamportTimestamp: this.lamportTimestamp,
      outgoing: this.outgoing.toBufferDelta(),
      incoming: this.incoming.toBufferDelta(),
      outgoingRepair: this.outgoingRepair.toBufferDelta(),
      incomingRepair: this.incomingRepair.toBufferDelta(),
      history: { append: [...this.history.upserts.values()], evict: [...this.history.removals] },
      retrievalHints: [...this.retrievalHints].map(([messageId, hint]) => ({ messageId, hint })),
    };
  }
}
