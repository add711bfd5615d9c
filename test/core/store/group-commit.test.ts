/**
 * A group commit must leave what committing its operations one by one leaves. The writer
 * skips work a later operation of the same transaction undoes (an outgoing row of a send
 * acknowledged in the same group is never encoded or written; of a row written twice only
 * the last write runs), so these tests run random workloads in the engine's shape (spec
 * filters in the published bytes, sends, resends, acknowledgements, history eviction, on two
 * channels) once per operation and once in random groups, and compare the restored state,
 * the re-published bytes, the insertion order and the inspection of both files.
 */
import { afterEach, describe, expect, it } from "vitest";
import { encodeMessage } from "../../../src/core/protocol/wire/index.js";
import type { SdsMessage } from "../../../src/core/protocol/types.js";
import type { ChannelData, ChannelDelta } from "../../../src/core/store/contract.js";
import { seededRandom } from "../../../src/core/store/faulty.js";
import { inspectDatabase } from "../../../src/core/store/inspect.js";
import { SqlitePersistence } from "../../../src/core/store/sqlite.js";
import { emptyDelta, message } from "./fixtures.js";
import { NOW, cleanTemp, must, tempDb } from "./helpers.js";

afterEach(cleanTemp);
const seed = Number(process.env.SDS_SEED ?? Date.now() % 1_000_000);
const BLOOM_BYTES = 18_752;

/** A random workload: each delta is one engine operation. */
function workload(random: () => number, operations: number): ChannelDelta[] {
  const filters = new Map<string, Uint8Array>([
    ["c1", new Uint8Array(BLOOM_BYTES).map((_, i) => (i * 7) & 0xff)],
    ["c2", new Uint8Array(BLOOM_BYTES).map((_, i) => (i * 13) & 0xff)],
  ]);
  const unacknowledged = new Map<string, Array<{ message: SdsMessage; wire: Uint8Array; attempts: number }>>([["c1", []], ["c2", []]]);
  const history = new Map<string, string[]>([["c1", []], ["c2", []]]);
  const deltas: ChannelDelta[] = [];
  for (let n = 0; n < operations; n++) {
    const channelId = random() < 0.7 ? "c1" : "c2";
    const delta = emptyDelta(channelId, BigInt(100 + n));
    const pending = unacknowledged.get(channelId) as Array<{ message: SdsMessage; wire: Uint8Array; attempts: number }>;
    const logged = history.get(channelId) as string[];
    const roll = random();
    if (roll < 0.55 || pending.length === 0) {
      const filter = filters.get(channelId) as Uint8Array;
      for (let k = 0; k < 10; k++) {
        const bit = Math.floor(random() * BLOOM_BYTES * 8);
        filter[bit >> 3] = (filter[bit >> 3] as number) | (1 << (bit & 7));
      }
      const full = message(channelId, `${channelId}-m${n}`, BigInt(100 + n), { bloomFilter: filter.slice() });
      const stored: SdsMessage = { ...full, bloomFilter: undefined };
      const wire = encodeMessage(full, { dialect: "spec" });
      delta.outgoing.upsert.push({ message: stored, sendTimeMs: NOW + n, resendAttempts: 0, wire });
      delta.history.append.push(stored);
      pending.push({ message: stored, wire, attempts: 0 });
      logged.push(stored.messageId);
    } else if (roll < 0.85) {
      // acknowledge one or two unacknowledged messages (often ones sent in the same group)
      for (let k = 0; k < 1 + Math.floor(random() * 2) && pending.length > 0; k++) {
        const [acknowledged] = pending.splice(Math.floor(random() * pending.length), 1);
        delta.outgoing.remove.push((acknowledged as { message: SdsMessage }).message.messageId);
      }
    } else if (roll < 0.95) {
      // resend: the entry is upserted again with one more attempt
      const entry = pending[Math.floor(random() * pending.length)] as { message: SdsMessage; wire: Uint8Array; attempts: number };
      entry.attempts += 1;
      delta.outgoing.upsert.push({ message: entry.message, sendTimeMs: NOW + n, resendAttempts: entry.attempts, wire: entry.wire });
    } else if (logged.length > 0) {
      delta.history.evict.push(...logged.splice(0, 1 + Math.floor(random() * Math.min(3, logged.length))));
    }
    deltas.push(delta);
  }
  return deltas;
}

/** What a restart restores, with filters and published bytes as hex so they compare exactly. */
async function restored(file: string): Promise<unknown> {
  const store = must(SqlitePersistence.open(file));
  const out: Record<string, unknown> = {};
  for (const channelId of must(await store.listChannels())) {
    const data = must(await store.loadChannel(channelId)) as ChannelData;
    out[channelId] = {
      lamport: data.meta.lamportTimestamp,
      history: data.history.map((m) => m.messageId),
      outgoing: data.meta.outgoingBuffer.map((entry) => ({
        id: entry.message.messageId,
        attempts: entry.resendAttempts,
        sendTimeMs: entry.sendTimeMs,
        wire: Buffer.from(entry.wire as Uint8Array).toString("hex"),
      })),
    };
  }
  await store.close();
  return out;
}

describe(`group commit (seed ${seed})`, () => {
  it("leaves what committing each operation alone leaves, for random workloads in random groups", async () => {
    console.log(`group commit seed=${seed} (set SDS_SEED to replay)`);
    for (let round = 0; round < 4; round++) {
      const random = seededRandom(seed + round);
      const deltas = workload(random, 160);
      const one = tempDb(`one-${round}.db`);
      const grouped = tempDb(`grouped-${round}.db`);
      let store = must(SqlitePersistence.open(one));
      for (const delta of deltas) must(store.commitSync([delta]));
      await store.close();
      store = must(SqlitePersistence.open(grouped));
      for (let from = 0; from < deltas.length; ) {
        const size = 1 + Math.floor(random() * 60);
        must(store.commitSync(deltas.slice(from, from + size)));
        from += size;
      }
      await store.close();
      expect(await restored(grouped)).toEqual(await restored(one));
      for (const file of [one, grouped]) expect(inspectDatabase(file, { nowMs: NOW }).problems).toEqual([]);
    }
  });
});
