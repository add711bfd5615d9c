/**
 * fast-check arbitraries for SDS messages, shared by the wire tests. Strings are
 * well-formed Unicode (lone surrogates are refused by the encoder, tested separately).
 */
import fc from "fast-check";
import type { HistoryEntry, SdsMessage } from "../../../../src/core/protocol/types.js";

/** Seed for fast-check runs: SDS_SEED if set, else random; printed so a failure can be replayed. */
export function seedFor(name: string): number {
  const fixed = process.env.SDS_SEED;
  const seed = fixed !== undefined && fixed !== "" ? Number(fixed) : Math.floor(Math.random() * 0x7fffffff);
  process.stderr.write(`[${name}] seed ${seed} (replay with SDS_SEED=${seed})\n`);
  return seed;
}

const hexId = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => Buffer.from(bytes).toString("hex"));

/** Ids as they occur (64-char hex), plus empty and arbitrary Unicode ones. */
export const idArb: fc.Arbitrary<string> = fc.oneof(hexId, fc.constant(""), fc.string({ unit: "binary", maxLength: 24 }), fc.string({ maxLength: 12 }));

const smallBytes = fc.uint8Array({ maxLength: 48 });

export const entryArb: fc.Arbitrary<HistoryEntry> = fc.record(
  { messageId: idArb, retrievalHint: smallBytes, senderId: idArb },
  { requiredKeys: ["messageId"] },
);

export const lamportArb: fc.Arbitrary<bigint> = fc.oneof(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 1_600_000_000_000n, max: 1_900_000_000_000n }), fc.constant(0n));

/** Any message the spec dialect can carry. */
export const specMessageArb: fc.Arbitrary<SdsMessage> = fc.record(
  {
    senderId: idArb,
    messageId: idArb,
    channelId: idArb,
    lamportTimestamp: lamportArb,
    causalHistory: fc.array(entryArb, { maxLength: 5 }),
    bloomFilter: fc.uint8Array({ maxLength: 300 }),
    content: smallBytes,
    repairRequest: fc.array(entryArb, { maxLength: 4 }),
  },
  { requiredKeys: ["senderId", "messageId", "channelId", "causalHistory", "repairRequest"] },
);

/** Any message the nim dialect can carry (nim has no ephemeral messages: lamport is set). */
export const nimMessageArb: fc.Arbitrary<SdsMessage> = specMessageArb.chain((message) => lamportArb.map((lamportTimestamp) => ({ ...message, lamportTimestamp })));

/** What a nim round trip gives back: always-written fields present, empty optionals gone. */
export function nimNormalized(message: SdsMessage): SdsMessage {
  const entry = (item: HistoryEntry): HistoryEntry => ({
    messageId: item.messageId,
    ...(item.retrievalHint && item.retrievalHint.length > 0 ? { retrievalHint: item.retrievalHint } : {}),
    ...(item.senderId ? { senderId: item.senderId } : {}),
  });
  return {
    senderId: message.senderId,
    messageId: message.messageId,
    channelId: message.channelId,
    lamportTimestamp: message.lamportTimestamp,
    causalHistory: message.causalHistory.map(entry),
    bloomFilter: message.bloomFilter ?? new Uint8Array(),
    content: message.content ?? new Uint8Array(),
    repairRequest: message.repairRequest.map(entry),
  };
}
