/**
 * Receiving a decoded message on its channel: repair cancellation, own-echo and duplicate
 * detection, ephemeral delivery, acknowledgement review (causal history, then the peer's
 * bloom filter with the dialect's threshold), SDS-R requests, and either delivery with its
 * cascade or buffering with the missing dependencies reported and scheduled for repair.
 */
import { SdsError } from "../../errors.js";
import type { HistoryEntry, SdsMessage } from "../types.js";
import { deliverAndCascade } from "./deliver.js";
import type { Operation } from "./operation.js";
import { readPeerBloom } from "./ports.js";
import { cancelRepairs, processRepairRequests, scheduleRepairs } from "./repair.js";
import { addWaiter, isDependencyMet } from "./state.js";

/** What kind of message was received (spec classification; nim messages are content or, when empty, sync). */
export type ReceivedKind = "content" | "sync" | "ephemeral";

/** The outcome of receiving one message (effects are on the operation). */
export interface ReceiveOutcome {
  messageId: string;
  kind: ReceivedKind;
  /** Already seen (in history or buffered) or our own echo: nothing changed but repair cancellation. */
  duplicate: boolean;
  /** This message's dependencies that nobody here has yet. */
  missing: HistoryEntry[];
}

function classify(message: SdsMessage): ReceivedKind {
  const hasContent = message.content !== undefined && message.content.length > 0;
  if (message.lamportTimestamp === undefined) {
    if (!hasContent) throw new SdsError("E_DECODE_INVALID", "message has neither a lamport timestamp nor content", { messageId: message.messageId });
    return "ephemeral";
  }
  return hasContent ? "content" : "sync";
}

/** Removes acknowledged own messages from the outgoing buffer (causal history first, then bloom). */
export function reviewAcknowledgements(operation: Operation, message: SdsMessage): void {
  const { state, context, delta } = operation;
  if (state.outgoing.size === 0) return;
  for (const entry of message.causalHistory) {
    if (state.outgoing.delete(entry.messageId)) acknowledge(operation, entry.messageId, "causalHistory");
  }
  const bytes = message.bloomFilter;
  if (state.outgoing.size === 0 || bytes === undefined || bytes.length === 0) return;
  const peer = readPeerBloom(bytes, context.dialect, context.config);
  if (peer === undefined) {
    operation.emit({ type: "invalidBloom", channelId: state.channelId, messageId: message.messageId });
    return;
  }
  const threshold = context.config.bloomAckThreshold;
  for (const [id, unacknowledged] of state.outgoing) {
    if (!peer.has(id)) continue;
    const count = (unacknowledged.possibleAckCount ?? 0) + 1;
    if (count >= threshold) {
      state.outgoing.delete(id);
      acknowledge(operation, id, "bloom");
      continue;
    }
    const updated = { ...unacknowledged, possibleAckCount: count };
    state.outgoing.set(id, updated);
    delta.outgoing.upsert(id, updated);
    operation.emit({ type: "possiblyAcknowledged", channelId: state.channelId, messageId: id, count });
  }
}

function acknowledge(operation: Operation, messageId: string, by: "causalHistory" | "bloom"): void {
  operation.delta.outgoing.remove(messageId);
  operation.effects.acknowledged.push(messageId);
  operation.emit({ type: "acknowledged", channelId: operation.state.channelId, messageId, by });
}

/**
 * Receives `message` (already decoded in the channel's dialect and addressed to this
 * channel). Throws `SdsError("E_DECODE_INVALID")` for a message with neither lamport nor content.
 */
export function receiveMessage(operation: Operation, message: SdsMessage, retrievalHint?: Uint8Array, wire?: Uint8Array): ReceiveOutcome {
  const { state, context } = operation;
  const id = message.messageId;
  const kind = classify(message);
  cancelRepairs(operation, id);
  const own = message.senderId === context.participantId && context.participantId !== "";
  if (own || (kind !== "ephemeral" && (state.history.has(id) || state.incoming.has(id)))) {
    operation.emit({ type: "duplicate", channelId: state.channelId, messageId: id, own });
    return { messageId: id, kind, duplicate: true, missing: [] };
  }
  if (kind === "ephemeral") {
    const delivered = { channelId: state.channelId, messageId: id, senderId: message.senderId, lamportTimestamp: undefined, content: message.content!, ephemeral: true, ...(retrievalHint === undefined ? {} : { retrievalHint }) };
    operation.effects.delivered.push(delivered);
    operation.emit({ type: "delivered", channelId: state.channelId, delivered });
    return { messageId: id, kind, duplicate: false, missing: [] };
  }
  const lamport = message.lamportTimestamp!;
  const next = context.dialect.lamportOnReceive(state.lamport, lamport, context.nowMs, context.config.maxFutureSkewMs);
  if (next !== state.lamport) operation.setLamport(next);
  processRepairRequests(operation, message);
  reviewAcknowledgements(operation, message);
  if (kind === "sync") {
    operation.emit({ type: "syncReceived", channelId: state.channelId, messageId: id, senderId: message.senderId });
    // A sync message is never buffered, but what it references and we lack is missing all the same.
    const missing = message.causalHistory.filter((entry) => !isDependencyMet(state, entry.messageId) && !state.incoming.has(entry.messageId));
    reportMissing(operation, id, missing);
    return { messageId: id, kind, duplicate: false, missing };
  }
  state.bloom.add(id);
  if (wire !== undefined && wire.length <= state.wires.bytesMax) {
    // A view into a larger buffer (a relay frame, say) is copied so the cache holds only these bytes.
    const whole = wire.byteOffset === 0 && wire.byteLength === wire.buffer.byteLength;
    state.wires.set(id, whole ? wire : wire.slice());
  }
  const stored: SdsMessage = message.bloomFilter === undefined ? message : { ...message, bloomFilter: undefined };
  let missingIds: Set<string> | undefined;
  for (const dependency of stored.causalHistory) {
    // A message cannot wait for itself (a hostile or broken sender would park it forever).
    if (dependency.messageId === id || isDependencyMet(state, dependency.messageId)) continue;
    (missingIds ??= new Set()).add(dependency.messageId);
  }
  if (missingIds === undefined) {
    deliverAndCascade(operation, stored, retrievalHint);
    return { messageId: id, kind, duplicate: false, missing: [] };
  }
  return bufferIncoming(operation, stored, missingIds, retrievalHint);
}

function bufferIncoming(operation: Operation, message: SdsMessage, missingIds: Set<string>, retrievalHint: Uint8Array | undefined): ReceiveOutcome {
  const { state, context, delta } = operation;
  const id = message.messageId;
  if (state.incoming.size >= context.config.incomingBufferEntriesMax) evictOldestIncoming(operation);
  const data = { message, missingDeps: [...missingIds], receivedAtMs: context.nowMs, ...(retrievalHint === undefined ? {} : { retrievalHint }) };
  state.incoming.set(id, { data, missing: missingIds });
  delta.incoming.upsert(id, data);
  for (const dependency of missingIds) addWaiter(state, dependency, id);
  // Dependencies already received (buffered) are not missing from the network: no report, no repair.
  const missing = message.causalHistory.filter((entry) => missingIds.has(entry.messageId) && !state.incoming.has(entry.messageId));
  reportMissing(operation, id, missing);
  return { messageId: id, kind: "content", duplicate: false, missing };
}

function reportMissing(operation: Operation, messageId: string, missing: HistoryEntry[]): void {
  if (missing.length === 0) return;
  operation.effects.missing.push(...missing);
  operation.emit({ type: "missing", channelId: operation.state.channelId, messageId, missing });
  scheduleRepairs(operation, missing);
}

function evictOldestIncoming(operation: Operation): void {
  const { state, delta } = operation;
  const oldest = state.incoming.keys().next().value;
  if (oldest === undefined) return;
  const record = state.incoming.get(oldest)!;
  state.incoming.delete(oldest);
  state.wires.delete(oldest);
  delta.incoming.remove(oldest);
  for (const dependency of record.missing) {
    const waiters = state.waitingOn.get(dependency);
    waiters?.delete(oldest);
    if (waiters !== undefined && waiters.size === 0) state.waitingOn.delete(dependency);
  }
  operation.emit({ type: "evicted", channelId: state.channelId, buffer: "incoming", messageId: oldest });
}
