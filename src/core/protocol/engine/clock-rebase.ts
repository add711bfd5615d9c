/**
 * Re-bases stored times after the wall clock jumped backwards. Buffers keep absolute times
 * (send time, first-missing time, T_req, T_resp); after a backward jump of an hour those
 * would all lie an hour in the future and every timer would stall for that hour. A time
 * more than one horizon past `now` cannot have been set by this clock's present, so it is
 * pulled back to `now` (plus the horizon for deadlines that are legitimately in the future).
 * Found by the simulator (seeds 1217, 100561, 100925, 100953, 200087).
 */
import type { Operation } from "./operation.js";

/** Pulls every stored time that lies impossibly far in the future back to the present. */
export function rebaseFutureTimes(operation: Operation): void {
  const { state, context, delta } = operation;
  const { nowMs, config } = context;
  if (state.lastSendAtMs > nowMs) state.lastSendAtMs = nowMs;
  for (const [id, unacknowledged] of state.outgoing) {
    if (unacknowledged.sendTimeMs <= nowMs) continue;
    const updated = { ...unacknowledged, sendTimeMs: nowMs };
    state.outgoing.set(id, updated);
    delta.outgoing.upsert(id, updated);
  }
  for (const [id, record] of state.incoming) {
    const receivedAtMs = record.data.receivedAtMs;
    if (receivedAtMs === undefined || receivedAtMs <= nowMs) continue;
    record.data = { ...record.data, receivedAtMs: nowMs };
    delta.incoming.upsert(id, record.data);
  }
  const horizonMs = config.repairTMaxMs;
  for (const [id, repair] of state.outgoingRepair) {
    const firstMissingAtMs = repair.firstMissingAtMs ?? nowMs;
    if (repair.minTimeRepairReqMs <= nowMs + horizonMs && firstMissingAtMs <= nowMs) continue;
    const updated = { ...repair, minTimeRepairReqMs: Math.min(repair.minTimeRepairReqMs, nowMs + horizonMs), firstMissingAtMs: Math.min(firstMissingAtMs, nowMs) };
    state.outgoingRepair.set(id, updated);
    delta.outgoingRepair.upsert(id, updated);
  }
  for (const [id, answer] of state.incomingRepair) {
    if (answer.minTimeRepairRespMs <= nowMs + horizonMs) continue;
    const updated = { ...answer, minTimeRepairRespMs: nowMs + horizonMs };
    state.incomingRepair.set(id, updated);
    delta.incomingRepair.upsert(id, updated);
  }
}
