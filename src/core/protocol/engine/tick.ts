/**
 * Periodic work of one channel, driven by the caller's clock: re-publish unacknowledged
 * messages every `resendIntervalMs` (the same bytes) and report `undelivered` after
 * `maxResendAttempts`; give up on dependencies older than `lostMessageTimeoutMs` (report
 * `lost`, deliver anyway); send a sync message after a quiet `syncIntervalMs` (spec) or
 * report `periodicSync` (nim); answer due repair requests within budget; abandon stale ones.
 */
import type { HistoryEntry } from "../types.js";
import { rebaseFutureTimes } from "./clock-rebase.js";
import { deliverReady, resolveDependencies } from "./deliver.js";
import type { Operation } from "./operation.js";
import { encodeWire } from "./ports.js";
import { eligibleRepairs, sweepRepairs, type RepairBudget } from "./repair.js";
import { sendSync } from "./send.js";

/** Runs every periodic duty of the operation's channel. */
export function tickChannel(operation: Operation, budget: RepairBudget): void {
  rebaseFutureTimes(operation);
  resendDue(operation);
  expireLost(operation);
  deliverReady(operation);
  sweepRepairs(operation, budget);
  syncIfQuiet(operation);
}

function resendDue(operation: Operation): void {
  const { state, context, delta } = operation;
  const { nowMs, config } = context;
  const exhausted: string[] = [];
  for (const [id, unacknowledged] of state.outgoing) {
    if (nowMs - unacknowledged.sendTimeMs < config.resendIntervalMs) continue;
    if (unacknowledged.resendAttempts >= config.maxResendAttempts) {
      exhausted.push(id);
      continue;
    }
    const wire = unacknowledged.wire ?? encodeWire(unacknowledged.message, context.dialect.name);
    const updated = { ...unacknowledged, wire, sendTimeMs: nowMs, resendAttempts: unacknowledged.resendAttempts + 1 };
    state.outgoing.set(id, updated);
    delta.outgoing.upsert(id, updated);
    operation.effects.publish.push(wire);
    operation.emit({ type: "resent", channelId: state.channelId, messageId: id, attempt: updated.resendAttempts });
  }
  for (const id of exhausted) {
    const attempts = state.outgoing.get(id)!.resendAttempts;
    state.outgoing.delete(id);
    delta.outgoing.remove(id);
    operation.effects.undelivered.push(id);
    operation.emit({ type: "undelivered", channelId: state.channelId, messageId: id, attempts, reason: "resendsExhausted" });
  }
}

function expireLost(operation: Operation): void {
  const { state, context } = operation;
  const timeoutMs = context.config.lostMessageTimeoutMs;
  if (timeoutMs === null || state.incoming.size === 0) return;
  const expired: Array<{ messageId: string; missing: HistoryEntry[] }> = [];
  for (const [id, record] of state.incoming) {
    const receivedAtMs = record.data.receivedAtMs ?? context.nowMs;
    if (context.nowMs - receivedAtMs < timeoutMs || record.missing.size === 0) continue;
    const missing = record.data.message.causalHistory.filter((entry) => record.missing.has(entry.messageId));
    expired.push({ messageId: id, missing });
  }
  for (const { messageId, missing } of expired) {
    const record = state.incoming.get(messageId);
    if (record === undefined || record.missing.size === 0) continue;
    const stillMissing = missing.filter((entry) => record.missing.has(entry.messageId));
    operation.effects.lost.push(...stillMissing);
    operation.emit({ type: "lost", channelId: state.channelId, messageId, missing: stillMissing });
    resolveDependencies(operation, stillMissing.map((entry) => entry.messageId), false);
  }
}

function syncIfQuiet(operation: Operation): void {
  const { state, context } = operation;
  const intervalMs = context.config.syncIntervalMs;
  if (intervalMs === 0) return;
  const quietMs = context.nowMs - state.lastSendAtMs;
  const repairsWaiting = quietMs >= intervalMs * 0.3 && eligibleRepairs(operation).length > 0;
  if (quietMs < intervalMs && !repairsWaiting) return;
  if (!context.dialect.hasSyncAndEphemeral) {
    if (quietMs < intervalMs) return;
    state.lastSendAtMs = context.nowMs;
    operation.emit({ type: "periodicSync", channelId: state.channelId });
    return;
  }
  if (sendSync(operation) === undefined) state.lastSendAtMs = context.nowMs;
}

/** `markDependenciesMet`: the application fetched these messages itself. */
export function markDependenciesMet(operation: Operation, messageIds: readonly string[]): void {
  resolveDependencies(operation, messageIds, true);
}
