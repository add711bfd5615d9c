/**
 * Delivery in causal order and the dependency cascade. A message is delivered only when
 * every causal dependency is in local history (or was declared met or lost); delivering it
 * wakes exactly the buffered messages waiting on it (reverse index), so a cascade costs
 * O(messages woken), never a scan of the whole buffer (js-waku's sweep is O(n·h·m)).
 * Delivered messages keep the causal entries the decoder produced; the engine's decoder shares
 * one object per distinct entry, which keeps a 10,000-entry spec history small in memory.
 */
import type { SdsMessage } from "../types.js";
import { cancelRepairs } from "./repair.js";
import type { Operation } from "./operation.js";
import { makeRecord, markResolved } from "./state.js";

/** Adds `message` to history and reports it; then delivers whatever it unblocks. */
export function deliverAndCascade(operation: Operation, message: SdsMessage, retrievalHint: Uint8Array | undefined): void {
  deliverOne(operation, message, retrievalHint);
  cascadeFrom(operation, [message.messageId]);
}

/**
 * Declares `dependencyIds` satisfied without the messages themselves and cascades. `haveThem`
 * (the application fetched them) also adds them to the bloom filter; lost ids are not added.
 */
export function resolveDependencies(operation: Operation, dependencyIds: readonly string[], haveThem: boolean): void {
  const { state, context } = operation;
  for (const id of dependencyIds) {
    if (!state.history.has(id)) markResolved(state, id, context.config.historyEntriesMax);
    if (haveThem) state.bloom.add(id);
    cancelRepairs(operation, id);
  }
  cascadeFrom(operation, dependencyIds);
}

function deliverOne(operation: Operation, message: SdsMessage, retrievalHint: Uint8Array | undefined): void {
  const { state, context, delta } = operation;
  const record = makeRecord(message, retrievalHint);
  const evicted = state.history.insert(record);
  delta.history.upsert(record.messageId, record.message);
  if (retrievalHint !== undefined) delta.retrievalHints.set(record.messageId, retrievalHint);
  for (const old of evicted) {
    delta.history.remove(old.messageId);
    state.wires.delete(old.messageId);
    operation.emit({ type: "evicted", channelId: state.channelId, buffer: "history", messageId: old.messageId });
  }
  const lamport = message.lamportTimestamp ?? 0n;
  const next = context.dialect.lamportOnDeliver(state.lamport, lamport, context.nowMs, context.config.maxFutureSkewMs);
  if (next !== state.lamport) operation.setLamport(next);
  const delivered = {
    channelId: state.channelId,
    messageId: message.messageId,
    senderId: message.senderId,
    lamportTimestamp: message.lamportTimestamp,
    content: message.content ?? new Uint8Array(0),
    ephemeral: false,
    ...(retrievalHint === undefined ? {} : { retrievalHint }),
  };
  operation.effects.delivered.push(delivered);
  operation.emit({ type: "delivered", channelId: state.channelId, delivered });
}

/** Delivers, transitively, every buffered message whose last missing dependency is in `ids`. */
function cascadeFrom(operation: Operation, ids: readonly string[]): void {
  const { state, delta } = operation;
  const pending = [...ids];
  while (pending.length > 0) {
    const id = pending.pop()!;
    const waiters = state.waitingOn.get(id);
    if (waiters === undefined) continue;
    state.waitingOn.delete(id);
    for (const waitingId of waiters) {
      const record = state.incoming.get(waitingId);
      if (record === undefined) continue;
      record.missing.delete(id);
      if (record.missing.size > 0) {
        // Persist the shrunken set: the dependency may leave history later, and a restore must not wait for it again.
        record.data = { ...record.data, missingDeps: [...record.missing] };
        delta.incoming.upsert(waitingId, record.data);
        continue;
      }
      state.incoming.delete(waitingId);
      delta.incoming.remove(waitingId);
      deliverOne(operation, record.data.message, record.data.retrievalHint);
      pending.push(waitingId);
    }
  }
}

/** Delivers buffered messages that wait for nothing (possible after a restore). */
export function deliverReady(operation: Operation): void {
  const { state, delta } = operation;
  const ready: string[] = [];
  for (const [id, record] of state.incoming) if (record.missing.size === 0) ready.push(id);
  for (const id of ready) {
    const record = state.incoming.get(id);
    if (record === undefined) continue;
    state.incoming.delete(id);
    delta.incoming.remove(id);
    deliverAndCascade(operation, record.data.message, record.data.retrievalHint);
  }
}
