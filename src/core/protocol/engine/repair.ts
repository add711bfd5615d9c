/**
 * SDS-R (repair) inside the engine: scheduling requests for missing dependencies (T_req),
 * attaching eligible requests to outgoing messages, answering other peers' requests after
 * T_resp with the cached bytes, and cancelling on sight of the message. Beyond both
 * references: an unanswered request is asked again with doubling back-off (T_min, 2·T_min, …,
 * capped at T_max) up to `repairAttemptsMax` times, then reported `repairAbandoned`; answers are bounded
 * per tick and per message id, and at most `maxRepairRequests` entries of a received message
 * are looked at, so hostile requests cannot amplify traffic.
 */
import type { HistoryEntry, SdsMessage } from "../types.js";
import { computeTReqOffsetMs, computeTRespOffsetMs, isInResponseGroup } from "../repair-timing.js";
import type { Operation } from "./operation.js";
import { encodeWire } from "./ports.js";

/** The budget of rebroadcasts left in one manager tick (shared across channels). */
export interface RepairBudget {
  remaining: number;
}

function repairActive(operation: Operation): boolean {
  return operation.context.config.repairEnabled && operation.context.participantId !== "";
}

/** Removes `messageId` from both repair buffers (we have it, or someone answered). */
export function cancelRepairs(operation: Operation, messageId: string): void {
  const { state, delta } = operation;
  if (state.outgoingRepair.delete(messageId)) delta.outgoingRepair.remove(messageId);
  if (state.incomingRepair.delete(messageId)) delta.incomingRepair.remove(messageId);
}

/** Queues requests for dependencies nobody here has (first T_req from the dialect's hash). */
export function scheduleRepairs(operation: Operation, entries: readonly HistoryEntry[]): void {
  if (!repairActive(operation)) return;
  const { state, context, delta } = operation;
  const { config, nowMs, participantId, dialect } = context;
  for (const entry of entries) {
    if (state.outgoingRepair.has(entry.messageId)) continue;
    if (state.outgoingRepair.size >= config.repairBufferEntriesMax) {
      // Like js-waku: drop the entry due furthest in the future.
      let furthest: string | undefined;
      let furthestMs = -Infinity;
      for (const [id, candidate] of state.outgoingRepair) {
        if (candidate.minTimeRepairReqMs > furthestMs) {
          furthestMs = candidate.minTimeRepairReqMs;
          furthest = id;
        }
      }
      if (furthest === undefined) break;
      state.outgoingRepair.delete(furthest);
      delta.outgoingRepair.remove(furthest);
      operation.emit({ type: "evicted", channelId: state.channelId, buffer: "outgoingRepair", messageId: furthest });
    }
    const offsetMs = computeTReqOffsetMs(dialect.name, participantId, entry.messageId, config.repairTMinMs, config.repairTMaxMs);
    const repair = { entry, minTimeRepairReqMs: nowMs + offsetMs, attempts: 0, firstMissingAtMs: nowMs };
    state.outgoingRepair.set(entry.messageId, repair);
    delta.outgoingRepair.upsert(entry.messageId, repair);
  }
}

/** Requests eligible now, most overdue first, at most `maxRepairRequests` (not yet marked). */
export function eligibleRepairs(operation: Operation): HistoryEntry[] {
  if (!repairActive(operation) || operation.state.outgoingRepair.size === 0) return [];
  const { nowMs, config } = operation.context;
  const eligible = [...operation.state.outgoingRepair.values()].filter((repair) => repair.minTimeRepairReqMs <= nowMs && (repair.attempts ?? 0) < config.repairAttemptsMax);
  eligible.sort((a, b) => a.minTimeRepairReqMs - b.minTimeRepairReqMs);
  return eligible.slice(0, config.maxRepairRequests).map((repair) => repair.entry);
}

/** Marks `entries` as asked now: the next ask waits min(T_min·2^(attempts−1), T_max). */
export function markRepairsAsked(operation: Operation, entries: readonly HistoryEntry[], carrierMessageId: string): void {
  if (entries.length === 0) return;
  const { state, context, delta } = operation;
  for (const entry of entries) {
    const repair = state.outgoingRepair.get(entry.messageId);
    if (repair === undefined) continue;
    const attempts = (repair.attempts ?? 0) + 1;
    const backoffMs = Math.min(context.config.repairTMinMs * 2 ** Math.min(attempts - 1, 30), context.config.repairTMaxMs);
    const updated = { ...repair, attempts, minTimeRepairReqMs: context.nowMs + Math.max(backoffMs, 1) };
    state.outgoingRepair.set(entry.messageId, updated);
    delta.outgoingRepair.upsert(entry.messageId, updated);
  }
  operation.emit({ type: "repairRequested", channelId: state.channelId, messageIds: entries.map((entry) => entry.messageId), carrierMessageId });
}

/** Handles the `repair_request` of a received message. */
export function processRepairRequests(operation: Operation, message: SdsMessage): void {
  if (message.repairRequest.length === 0) return;
  const { state, context, delta } = operation;
  const { config, nowMs, participantId, dialect } = context;
  const requests = message.repairRequest.slice(0, config.maxRepairRequests);
  operation.emit({ type: "repairRequestReceived", channelId: state.channelId, messageIds: requests.map((entry) => entry.messageId), fromSenderId: message.senderId });
  if (!repairActive(operation)) return;
  for (const request of requests) {
    const own = state.outgoingRepair.get(request.messageId);
    if (own !== undefined) {
      // Someone else asked: wait for the answer they will get, but keep ours in case it never comes.
      const postponed = { ...own, minTimeRepairReqMs: Math.max(own.minTimeRepairReqMs, nowMs + config.repairTMinMs) };
      state.outgoingRepair.set(request.messageId, postponed);
      delta.outgoingRepair.upsert(request.messageId, postponed);
    }
    const record = state.history.get(request.messageId);
    if (record === undefined || !request.senderId || state.incomingRepair.has(request.messageId)) continue;
    if (!isInResponseGroup(dialect.name, participantId, request.senderId, request.messageId, config.repairResponseGroups)) continue;
    const window = state.rebroadcasts.get(request.messageId);
    if (window !== undefined && nowMs - window.windowStartMs < config.repairTMaxMs && window.count >= config.repairResponsesPerMessageMax) continue;
    if (state.incomingRepair.size >= config.repairBufferEntriesMax) {
      operation.emit({ type: "evicted", channelId: state.channelId, buffer: "incomingRepair", messageId: request.messageId });
      continue;
    }
    const offsetMs = computeTRespOffsetMs(dialect.name, participantId, request.senderId, request.messageId, config.repairTMaxMs);
    // The original bytes (with the sender's bloom filter) when we still have them, as nim-sds answers.
    const cachedMessage = state.wires.get(request.messageId) ?? state.outgoing.get(request.messageId)?.wire ?? encodeWire(record.message, dialect.name);
    const entry = { entry: request, cachedMessage, minTimeRepairRespMs: nowMs + offsetMs };
    state.incomingRepair.set(request.messageId, entry);
    delta.incomingRepair.upsert(request.messageId, entry);
  }
}

/** Rebroadcasts due answers (within `budget`) and abandons requests past their deadline. */
export function sweepRepairs(operation: Operation, budget: RepairBudget): void {
  const { state, context, delta } = operation;
  const { nowMs, config } = context;
  if (state.incomingRepair.size > 0) {
    const due = [...state.incomingRepair.values()].filter((entry) => entry.minTimeRepairRespMs <= nowMs);
    due.sort((a, b) => a.minTimeRepairRespMs - b.minTimeRepairRespMs);
    for (const entry of due) {
      if (budget.remaining <= 0) break;
      budget.remaining -= 1;
      const id = entry.entry.messageId;
      state.incomingRepair.delete(id);
      delta.incomingRepair.remove(id);
      operation.effects.publish.push(entry.cachedMessage);
      const window = state.rebroadcasts.get(id);
      if (window === undefined || nowMs - window.windowStartMs >= config.repairTMaxMs) state.rebroadcasts.set(id, { count: 1, windowStartMs: nowMs });
      else window.count += 1;
      if (state.rebroadcasts.size > config.repairBufferEntriesMax) {
        const oldest = state.rebroadcasts.keys().next().value;
        if (oldest !== undefined) state.rebroadcasts.delete(oldest);
      }
      operation.emit({ type: "repairAnswered", channelId: state.channelId, messageId: id });
    }
  }
  for (const [id, repair] of state.outgoingRepair) {
    // Abandon once the last allowed ask went unanswered for its whole back-off.
    if ((repair.attempts ?? 0) < config.repairAttemptsMax || nowMs < repair.minTimeRepairReqMs) continue;
    state.outgoingRepair.delete(id);
    delta.outgoingRepair.remove(id);
    operation.emit({ type: "repairAbandoned", channelId: state.channelId, messageId: id });
  }
}
