/**
 * Shared fixtures of the hostile-input tests (reliability.md §5.6): a ReliabilityManager on a
 * memory store with an injected clock and seeded randomness, its events collected in order,
 * and builders for hand-made (hostile) wire messages in either dialect.
 */
import { isSdsError } from "../../src/core/errors.js";
import type { SdsConfig } from "../../src/core/protocol/config.js";
import type { EngineEvent, EngineEventType } from "../../src/core/protocol/engine/events.js";
import type { DialectName, SdsMessage } from "../../src/core/protocol/types.js";
import { encodeMessage } from "../../src/core/protocol/wire/index.js";
import { ReliabilityManager } from "../../src/core/reliability-manager.js";
import { MemoryPersistence } from "../../src/core/store/memory.js";
import { SimRandom } from "../sim/prng.js";

/** Virtual start time of every fixture clock (2026-01-01T00:00:00Z). */
export const START_MS = 1_767_225_600_000;

const EVENT_TYPES: readonly EngineEventType[] = [
  "delivered", "acknowledged", "possiblyAcknowledged", "missing", "lost", "resent", "undelivered", "evicted", "duplicate",
  "syncSent", "syncReceived", "periodicSync", "repairRequested", "repairRequestReceived", "repairAnswered", "repairAbandoned", "invalidBloom",
];

/** A manager under test with its clock, store and event log. */
export interface Subject {
  manager: ReliabilityManager;
  clock: { nowMs: number };
  store: MemoryPersistence;
  events: EngineEvent[];
  /** Events of one type seen so far. */
  of<T extends EngineEventType>(type: T): Array<Extract<EngineEvent, { type: T }>>;
}

/** Builds a manager named `participantId` with test-friendly defaults overridden by `config`. */
export function subject(participantId = "me", dialect: DialectName = "spec", config: Partial<SdsConfig> = {}): Subject {
  const clock = { nowMs: START_MS };
  const random = new SimRandom(`hostile-${participantId}`);
  const store = new MemoryPersistence();
  const manager = new ReliabilityManager({
    participantId, dialect, now: () => clock.nowMs, random: () => random.float(), persistence: store,
    config: { bloomCapacity: 500, lostMessageTimeoutMs: 10_000, resendIntervalMs: 1_000, syncIntervalMs: 500, repairTMinMs: 100, repairTMaxMs: 2_000, ...config },
  });
  const events: EngineEvent[] = [];
  for (const type of EVENT_TYPES) manager.on(type, (event: EngineEvent) => events.push(event));
  return { manager, clock, store, events, of: (type) => events.filter((event) => event.type === type) as never };
}

/** A content message from `senderId` with sensible defaults. */
export function message(fields: Partial<SdsMessage> & { messageId: string }): SdsMessage {
  return {
    senderId: "peer", channelId: "chan", lamportTimestamp: BigInt(START_MS), causalHistory: [], repairRequest: [],
    content: new TextEncoder().encode(`payload of ${fields.messageId}`), ...fields,
  };
}

/** Encodes `fields` as a wire message. */
export function wire(fields: Partial<SdsMessage> & { messageId: string }, dialect: DialectName = "spec"): Uint8Array {
  return encodeMessage(message(fields), { dialect });
}

/** Awaits `promise`; returns the error if it rejected (undefined if it resolved). */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return error;
  }
}

/** True for `undefined` (resolved) or a typed toolkit error; false for any untyped throw. */
export function typedOrNone(error: unknown): boolean {
  return error === undefined || isSdsError(error);
}

/** The seed of a randomized test: `SDS_SEED` when set, else a fixed default; printed. */
export function testSeed(name: string, fallback: number): number {
  const seed = process.env.SDS_SEED === undefined ? fallback : Number(process.env.SDS_SEED);
  process.stderr.write(`${name}: seed ${seed} (SDS_SEED=${seed} to replay)\n`);
  return seed;
}
