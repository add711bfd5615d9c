/**
 * Sending: content messages (clock by dialect rule, last K history entries, the filter's
 * cached bytes, eligible repair requests; kept with their exact bytes for resends), ephemeral
 * messages (spec only: no clock, history or filter; never buffered), and sync messages (spec
 * only: empty content, skipped when there is nothing to say). State changes only after the
 * message encoded and fits `wireBytesMax`, so a refused send leaves the channel untouched.
 */
import { SdsError } from "../../errors.js";
import type { SdsMessage } from "../types.js";
import type { Operation } from "./operation.js";
import { encodeWire } from "./ports.js";
import { eligibleRepairs, markRepairsAsked } from "./repair.js";
import { makeRecord } from "./state.js";

/** A sent message: its id and the bytes to publish. */
export interface SentMessage {
  messageId: string;
  wire: Uint8Array;
}

function checkPayload(operation: Operation, payload: Uint8Array): void {
  if (!(payload instanceof Uint8Array) || payload.length === 0) {
    throw new SdsError("E_PAYLOAD_EMPTY", "an SDS content message needs a non-empty payload (empty content means sync)");
  }
  const max = operation.context.config.contentBytesMax;
  if (payload.length > max) throw new SdsError("E_PAYLOAD_TOO_LARGE", `payload is ${payload.length} bytes, above contentBytesMax = ${max}`, { lengthBytes: payload.length, contentBytesMax: max });
}

function checkWire(operation: Operation, wire: Uint8Array): void {
  const max = operation.context.config.wireBytesMax;
  if (wire.length > max) throw new SdsError("E_PAYLOAD_TOO_LARGE", `encoded message is ${wire.length} bytes, above wireBytesMax = ${max}`, { lengthBytes: wire.length, wireBytesMax: max });
}

/** Sends a content message. Throws `E_PAYLOAD_EMPTY`, `E_PAYLOAD_TOO_LARGE`, `E_INPUT_INVALID`. */
export function sendContent(operation: Operation, payload: Uint8Array): SentMessage {
  checkPayload(operation, payload);
  const { state, context, delta } = operation;
  const messageId = context.makeMessageId(payload);
  const pending = state.outgoing.get(messageId);
  if (pending?.wire !== undefined) {
    // Same content id still unacknowledged (content-derived ids): js-waku re-sends the identical message.
    operation.effects.publish.push(pending.wire);
    return { messageId, wire: pending.wire };
  }
  if (state.history.has(messageId)) {
    throw new SdsError("E_INPUT_INVALID", `message id ${messageId} was already used on channel ${state.channelId}; use unique message ids`, { messageId });
  }
  const lamport = context.dialect.lamportOnSend(state.lamport, context.nowMs);
  const repairs = eligibleRepairs(operation);
  const message: SdsMessage = {
    senderId: context.participantId,
    messageId,
    channelId: state.channelId,
    lamportTimestamp: BigInt(lamport),
    causalHistory: state.history.recentEntries(context.config.causalHistorySize),
    bloomFilter: state.bloom.toBytes(),
    content: payload,
    repairRequest: repairs,
  };
  const wire = encodeWire(message, context.dialect.name, state.history.recentEncoded(context.config.causalHistorySize));
  checkWire(operation, wire);
  operation.setLamport(lamport);
  markRepairsAsked(operation, repairs, messageId);
  if (state.outgoing.size >= context.config.outgoingBufferEntriesMax) evictOldestOutgoing(operation);
  // One stripped message object for the outgoing entry and the history record: a store then
  // sees the same object in both and encodes it once (messages are never mutated).
  const record = makeRecord(message);
  const unacknowledged = { message: record.message, sendTimeMs: context.nowMs, resendAttempts: 0, possibleAckCount: 0, wire };
  state.outgoing.set(messageId, unacknowledged);
  delta.outgoing.upsert(messageId, unacknowledged);
  for (const old of state.history.insert(record)) {
    delta.history.remove(old.messageId);
    state.wires.delete(old.messageId);
    operation.emit({ type: "evicted", channelId: state.channelId, buffer: "history", messageId: old.messageId });
  }
  if (state.history.has(messageId)) {
    delta.history.upsert(messageId, record.message);
    state.wires.set(messageId, wire);
  }
  state.bloom.add(messageId);
  state.lastSendAtMs = context.nowMs;
  operation.effects.publish.push(wire);
  return { messageId, wire };
}

function evictOldestOutgoing(operation: Operation): void {
  const { state, delta } = operation;
  const oldest = state.outgoing.keys().next().value;
  if (oldest === undefined) return;
  const attempts = state.outgoing.get(oldest)!.resendAttempts;
  state.outgoing.delete(oldest);
  delta.outgoing.remove(oldest);
  operation.effects.undelivered.push(oldest);
  operation.emit({ type: "evicted", channelId: state.channelId, buffer: "outgoing", messageId: oldest });
  operation.emit({ type: "undelivered", channelId: state.channelId, messageId: oldest, attempts, reason: "evicted" });
}

/** Sends an ephemeral message (spec dialect only). Nothing is stored. */
export function sendEphemeral(operation: Operation, payload: Uint8Array): SentMessage {
  const { state, context } = operation;
  if (!context.dialect.hasSyncAndEphemeral) {
    throw new SdsError("E_USAGE", `the ${context.dialect.name} dialect has no ephemeral messages`, { dialect: context.dialect.name });
  }
  checkPayload(operation, payload);
  const messageId = context.makeMessageId(payload);
  const message: SdsMessage = { senderId: context.participantId, messageId, channelId: state.channelId, causalHistory: [], content: payload, repairRequest: [] };
  const wire = encodeWire(message, context.dialect.name);
  checkWire(operation, wire);
  operation.effects.publish.push(wire);
  return { messageId, wire };
}

/** `sync-` + 10 base-36 characters from the injected random source. */
function syncMessageId(random: () => number): string {
  let suffix = "";
  for (let index = 0; index < 10; index++) suffix += Math.floor(random() * 36).toString(36);
  return `sync-${suffix}`;
}

/**
 * Sends a sync message (spec dialect): the clock ticks, causal history and filter are
 * attached with any eligible repair requests. Returns `undefined` (and changes nothing)
 * when there is no history and nothing to ask for, as js-waku does since #2658.
 */
export function sendSync(operation: Operation): SentMessage | undefined {
  const { state, context } = operation;
  if (!context.dialect.hasSyncAndEphemeral) return undefined;
  const causalHistory = state.history.recentEntries(context.config.causalHistorySize);
  const repairs = eligibleRepairs(operation);
  if (causalHistory.length === 0 && repairs.length === 0) return undefined;
  const lamport = context.dialect.lamportOnSend(state.lamport, context.nowMs);
  const messageId = syncMessageId(context.random);
  const message: SdsMessage = {
    senderId: context.participantId,
    messageId,
    channelId: state.channelId,
    lamportTimestamp: BigInt(lamport),
    causalHistory,
    bloomFilter: state.bloom.toBytes(),
    repairRequest: repairs,
  };
  const wire = encodeWire(message, context.dialect.name, state.history.recentEncoded(context.config.causalHistorySize));
  operation.setLamport(lamport);
  markRepairsAsked(operation, repairs, messageId);
  state.lastSendAtMs = context.nowMs;
  operation.effects.publish.push(wire);
  operation.emit({ type: "syncSent", channelId: state.channelId, messageId });
  return { messageId, wire };
}
