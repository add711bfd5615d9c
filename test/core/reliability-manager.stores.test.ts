/**
 * Persistence round trip on every backend (reliability.md §5.2 S4, S8): a seeded workload with
 * loss and reordering runs against a manager with a store; at checkpoints a second manager is
 * opened on the same store and its restored channel must equal the live one (clock, history
 * order, outgoing, incoming with missing sets, both repair buffers with absolute times).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { ChannelState } from "../../src/core/protocol/engine/index.js";
import type { DialectName } from "../../src/core/protocol/types.js";
import { ReliabilityManager } from "../../src/core/reliability-manager.js";
import type { Persistence } from "../../src/core/store/contract.js";
import { MemoryPersistence, SqlitePersistence } from "../../src/core/store/index.js";
import { bytes, FakeClock, seededRandom, TestPersistence, testSeed } from "./protocol/engine/support.js";

const CHANNEL = "round-trip";
const directory = mkdtempSync(join(tmpdir(), "sds-engine-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function summary(state: Readonly<ChannelState>) {
  return {
    lamport: state.lamport,
    history: state.history.ids(),
    outgoing: [...state.outgoing.values()].map((entry) => [entry.message.messageId, entry.resendAttempts, entry.sendTimeMs, entry.possibleAckCount ?? 0]),
    incoming: [...state.incoming.entries()].map(([id, record]) => [id, [...record.missing].sort()]).sort(),
    outgoingRepair: [...state.outgoingRepair.values()].map((entry) => [entry.entry.messageId, entry.minTimeRepairReqMs, entry.attempts ?? 0]).sort(),
    incomingRepair: [...state.incomingRepair.values()].map((entry) => [entry.entry.messageId, entry.minTimeRepairRespMs]).sort(),
  };
}

const backends: Array<[string, () => Persistence]> = [
  ["test store", () => new TestPersistence()],
  ["MemoryPersistence", () => new MemoryPersistence()],
  ["SqlitePersistence", () => {
    const opened = SqlitePersistence.open(join(directory, `db-${Math.random().toString(36).slice(2)}.sqlite`), { synchronous: "OFF" });
    if (!opened.ok) throw opened.error;
    return opened.value;
  }],
];

for (const [name, makeStore] of backends) {
  for (const dialect of ["spec", "nim"] as DialectName[]) {
    it(`restores exactly what it committed: ${name}, ${dialect}`, async () => {
      const seed = testSeed(`store round trip ${name} ${dialect}`);
      const random = seededRandom(seed);
      const clock = new FakeClock();
      const store = makeStore();
      const config = { historyEntriesMax: 40, causalHistorySize: 5, resendIntervalMs: 5_000, repairTMinMs: 2_000, repairTMaxMs: 8_000, syncIntervalMs: 0 };
      const alice = new ReliabilityManager({ participantId: "alice", dialect, now: clock.now, persistence: store, config });
      const bob = new ReliabilityManager({ participantId: "bob", dialect, now: clock.now, config });
      const inFlight: Uint8Array[] = [];
      for (let step = 0; step < 400; step++) {
        clock.advance(Math.floor(random() * 1_500));
        const roll = random();
        if (roll < 0.25) {
          const sent = await alice.send(CHANNEL, bytes(`a${step}`));
          if (random() < 0.7) await bob.receive(sent.wire);
        } else if (roll < 0.6) {
          const sent = await bob.send(CHANNEL, bytes(`b${step}`));
          if (random() < 0.75) inFlight.push(sent.wire);
        } else if (roll < 0.85 && inFlight.length > 0) {
          const [wire] = inFlight.splice(Math.floor(random() * inFlight.length), 1);
          await alice.receive(wire!);
        } else if (roll < 0.95) {
          const tick = await alice.tick();
          for (const wire of tick.wire) await bob.receive(wire);
        } else {
          const waiting = [...(alice.inspect(CHANNEL)?.incoming.values() ?? [])].flatMap((record) => [...record.missing]);
          if (waiting.length > 0) await alice.markDependenciesMet(CHANNEL, [waiting[0]!]);
        }
        if (step % 20 === 19 && alice.inspect(CHANNEL) !== undefined) {
          const reopened = new ReliabilityManager({ participantId: "alice", dialect, now: clock.now, persistence: store, config });
          await reopened.markDependenciesMet(CHANNEL, []);
          expect(summary(reopened.inspect(CHANNEL)!), `seed ${seed}, step ${step}`).toEqual(summary(alice.inspect(CHANNEL)!));
        }
      }
      await store.close();
    }, 60_000);
  }
}

describe("store round trip", () => {
  it("covers three backends in both dialects", () => {
    expect(backends.length * 2).toBe(6);
  });
});
