/** Shared builders for store tests: SDS messages, metas and deltas in the shape nim decodes back exactly. */
import fc from "fast-check";
import type { ChannelDelta, ChannelMeta, IncomingMessage, IncomingRepairEntry, OutgoingRepairEntry, UnacknowledgedMessage } from "../../../src/core/store/contract.js";
import type { HistoryEntry, SdsMessage } from "../../../src/core/protocol/types.js";

/** A message as the nim decoder returns it (content and bloom always present). */
export function message(channelId: string, messageId: string, lamport: bigint, extra: Partial<SdsMessage> = {}): SdsMessage {
  return {
    senderId: "alice",
    messageId,
    channelId,
    lamportTimestamp: lamport,
    causalHistory: [],
    bloomFilter: Uint8Array.of(1, 2, 3),
    content: new TextEncoder().encode(`payload ${messageId}`),
    repairRequest: [],
    ...extra,
  };
}

const id = fc.stringMatching(/^[a-z0-9]{1,12}$/);
const bytes = (max: number) => fc.uint8Array({ maxLength: max });
const time = fc.integer({ min: 0, max: 2 ** 45 });

export function arbitraryEntry(): fc.Arbitrary<HistoryEntry> {
  return fc.record({ messageId: id, retrievalHint: fc.uint8Array({ minLength: 1, maxLength: 8 }), senderId: id }, { requiredKeys: ["messageId"] });
}

export function arbitraryMessage(channelId?: string): fc.Arbitrary<SdsMessage> {
  return fc.record({
    senderId: fc.oneof(fc.constant(""), id),
    messageId: id,
    channelId: channelId === undefined ? id : fc.constant(channelId),
    lamportTimestamp: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    causalHistory: fc.array(arbitraryEntry(), { maxLength: 3 }),
    bloomFilter: bytes(40),
    content: bytes(40),
    repairRequest: fc.array(arbitraryEntry(), { maxLength: 2 }),
  });
}

export function arbitraryUnacknowledged(): fc.Arbitrary<UnacknowledgedMessage> {
  return fc.record(
    { message: arbitraryMessage(), sendTimeMs: time, resendAttempts: fc.nat(10), possibleAckCount: fc.nat(3), wire: bytes(30) },
    { requiredKeys: ["message", "sendTimeMs", "resendAttempts"] },
  );
}

export function arbitraryIncoming(): fc.Arbitrary<IncomingMessage> {
  return fc.record(
    { message: arbitraryMessage(), missingDeps: fc.array(id, { maxLength: 3 }), receivedAtMs: time, retrievalHint: bytes(8) },
    { requiredKeys: ["message", "missingDeps"] },
  );
}

export function arbitraryOutgoingRepair(): fc.Arbitrary<OutgoingRepairEntry> {
  return fc.record({ entry: arbitraryEntry(), minTimeRepairReqMs: time, attempts: fc.nat(5), firstMissingAtMs: time }, { requiredKeys: ["entry", "minTimeRepairReqMs"] });
}

export function arbitraryIncomingRepair(): fc.Arbitrary<IncomingRepairEntry> {
  return fc.record({ entry: arbitraryEntry(), cachedMessage: bytes(30), minTimeRepairRespMs: time });
}

export function arbitraryMeta(): fc.Arbitrary<ChannelMeta> {
  return fc.record({
    schemaVersion: fc.constant(1 as const),
    lamportTimestamp: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    outgoingBuffer: fc.array(arbitraryUnacknowledged(), { maxLength: 3 }),
    incomingBuffer: fc.array(arbitraryIncoming(), { maxLength: 3 }),
    outgoingRepairBuffer: fc.array(arbitraryOutgoingRepair(), { maxLength: 3 }),
    incomingRepairBuffer: fc.array(arbitraryIncomingRepair(), { maxLength: 3 }),
  });
}

/** An empty delta for `channelId` at `lamport`. */
export function emptyDelta(channelId: string, lamport: bigint): ChannelDelta {
  return {
    channelId,
    lamportTimestamp: lamport,
    outgoing: { upsert: [], remove: [] },
    incoming: { upsert: [], remove: [] },
    outgoingRepair: { upsert: [], remove: [] },
    incomingRepair: { upsert: [], remove: [] },
    history: { append: [], evict: [] },
    retrievalHints: [],
  };
}
