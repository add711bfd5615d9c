/**
 * The pure SDS engine: per-channel state in, effects and a persistence delta out. Time,
 * randomness and message-id generation come in through `EngineContext`; nothing here does
 * I/O. Operations mutate the channel state in place and return an {@link OperationResult};
 * a driver that cannot commit `delta` must discard the channel and reload it from its store
 * (see docs/engine.md, "Rollback").
 */
import type { ChannelDelta } from "../../store/contract.js";
import type { SdsMessage } from "../types.js";
import { Effects, Operation } from "./operation.js";
import { receiveMessage, type ReceiveOutcome } from "./receive.js";
import type { RepairBudget } from "./repair.js";
import { sendContent, sendEphemeral, sendSync, type SentMessage } from "./send.js";
import type { ChannelState, EngineContext } from "./state.js";
import { markDependenciesMet as markMet, tickChannel } from "./tick.js";
import { setRetrievalHint as setHint } from "./hints.js";

export { Effects, Operation } from "./operation.js";
export type { Delivered, EngineEvent, EngineEventType, BufferName } from "./events.js";
export type { ReceiveOutcome, ReceivedKind } from "./receive.js";
export type { SentMessage } from "./send.js";
export type { RepairBudget } from "./repair.js";
export { createChannel, restoreChannel, type ChannelState, type EngineContext, type IncomingRecord } from "./state.js";
export { LocalHistory, compareRecords, type HistoryRecord } from "./history.js";
export { DeltaBuilder, KeyedChanges } from "./delta.js";
export { decodeWire, encodeWire } from "./ports.js";
export { RETRIEVAL_HINT_BYTES_MAX } from "./hints.js";
export { WIRE_CACHE_BYTES_MAX_DEFAULT, WireCache } from "./wire-cache.js";

/** What an operation returns: its own value, its effects, and the delta to commit first. */
export interface OperationResult<T> {
  value: T;
  effects: Effects;
  /** `undefined` when nothing needs writing (built on first read). */
  readonly delta: ChannelDelta | undefined;
  /** The delta builder (for drivers that merge deltas of several operations). */
  operation: Operation;
}

function run<T>(state: ChannelState, context: EngineContext, body: (operation: Operation) => T): OperationResult<T> {
  const operation = new Operation(state, context);
  const value = body(operation);
  return {
    value,
    effects: operation.effects,
    operation,
    get delta() {
      return operation.delta.isEmpty ? undefined : operation.delta.toChannelDelta();
    },
  };
}

/** Sends `payload` as a content message, or as an ephemeral one (spec dialect only). */
export function send(state: ChannelState, context: EngineContext, payload: Uint8Array, options: { ephemeral?: boolean } = {}): OperationResult<SentMessage> {
  return run(state, context, (operation) => (options.ephemeral === true ? sendEphemeral(operation, payload) : sendContent(operation, payload)));
}

/** Sends a sync message now if there is anything to say (spec dialect). */
export function sync(state: ChannelState, context: EngineContext): OperationResult<SentMessage | undefined> {
  return run(state, context, (operation) => sendSync(operation));
}

/**
 * Receives a decoded message addressed to this channel. `wire`, when given, must be the bytes
 * `message` was decoded from; they are kept (bounded) so repair answers re-publish them exactly:
 * a view into a larger buffer is copied, a whole buffer is kept by reference (do not modify it).
 */
export function receive(state: ChannelState, context: EngineContext, message: SdsMessage, retrievalHint?: Uint8Array, wire?: Uint8Array): OperationResult<ReceiveOutcome> {
  return run(state, context, (operation) => receiveMessage(operation, message, retrievalHint, wire));
}

/** Runs the channel's periodic duties; `budget` bounds rebroadcasts across channels. */
export function tick(state: ChannelState, context: EngineContext, budget: RepairBudget): OperationResult<void> {
  return run(state, context, (operation) => tickChannel(operation, budget));
}

/** Declares messages retrieved by the application: dependants waiting on them are delivered. */
export function markDependenciesMet(state: ChannelState, context: EngineContext, messageIds: readonly string[]): OperationResult<void> {
  return run(state, context, (operation) => markMet(operation, messageIds));
}

/**
 * Records the retrieval hint (e.g. relay envelope hash) of a message in history or the incoming
 * buffer, so causal histories we send carry it. `value` is `true` when something changed.
 */
export function setRetrievalHint(state: ChannelState, context: EngineContext, messageId: string, hint: Uint8Array): OperationResult<boolean> {
  return run(state, context, (operation) => setHint(operation, messageId, hint));
}
