/**
 * The one place the simulator touches the code under test: it builds the real
 * `ReliabilityManager` for a peer (injected clock and seeded randomness, the seed's config and
 * persistence policy) and the real stores (memory, or a SQLite file per peer; `model` is the
 * simulator's own reference store). Every engine
 * event is collected through the manager's emitter, so the simulator sees exactly what an
 * application would, after the commit.
 */
import { join } from "node:path";
import type { EngineEvent, EngineEventType } from "../../src/core/protocol/engine/events.js";
import type { Delivered } from "../../src/core/protocol/engine/events.js";
import { ReliabilityManager } from "../../src/core/reliability-manager.js";
import type { Persistence } from "../../src/core/store/contract.js";
import { type Result, ok } from "../../src/core/errors.js";
import { MemoryPersistence } from "../../src/core/store/memory.js";
import { ModelStore } from "./model-store.js";
import type { SimRandom } from "./prng.js";
import type { StoreKind, WorldParams } from "./scenarios.js";

/** Every event type the engine emits. */
const EVENT_TYPES: readonly EngineEventType[] = [
  "delivered", "acknowledged", "possiblyAcknowledged", "missing", "lost", "resent", "undelivered", "evicted", "duplicate",
  "syncSent", "syncReceived", "periodicSync", "repairRequested", "repairRequestReceived", "repairAnswered", "repairAbandoned", "invalidBloom",
];

/** What one operation released: bytes to publish, deliveries, and every event. */
export interface OperationOutcome {
  wire: Uint8Array[];
  delivered: Delivered[];
  events: EngineEvent[];
  /** Codes of commits that failed and were deferred (best-effort policy only). */
  deferredCommits: string[];
}

/** What a send released: its id and bytes, plus the outcome. */
export type SendOutcome = OperationOutcome & { messageId: string; bytes: Uint8Array };

/** A peer's engine, as the simulator drives it. */
export interface EngineHandle {
  /** True when the engine keeps nothing in a store (the @waku/sds peer of F14): no S8 sampling. */
  volatile?: boolean;
  send(channel: string, payload: Uint8Array, ephemeral: boolean): Promise<SendOutcome>;
  receive(bytes: Uint8Array): Promise<OperationOutcome>;
  tick(): Promise<OperationOutcome>;
  /** What the running manager holds for `channel` (cheap, in memory); undefined when not loaded. */
  holdings(channel: string): Holdings | undefined;
  /** The manager's read-only channel state, for debugging a replay. */
  inspect(channel: string): ReturnType<ReliabilityManager["inspect"]>;
}

/** A peer's view of one channel: history ids, unacknowledged ids, and buffered entry counts. */
export interface Holdings {
  history: Set<string>;
  outgoing: Set<string>;
  /** Entries in the incoming and both repair buffers. */
  buffered: number;
}

/** Options for {@link openEngine}. */
export interface OpenEngineOptions {
  participantId: string;
  params: WorldParams;
  now: () => number;
  random: SimRandom;
  persistence: Persistence;
}

/** Builds the real manager for one peer incarnation. */
export async function openEngine(options: OpenEngineOptions): Promise<Result<EngineHandle>> {
  const manager = new ReliabilityManager({
    participantId: options.participantId,
    dialect: options.params.dialect,
    now: options.now,
    random: () => options.random.float(),
    config: options.params.config,
    persistence: options.persistence,
    policy: options.params.policy,
  });
  let events: EngineEvent[] = [];
  for (const type of EVENT_TYPES) manager.on(type, (event: EngineEvent) => events.push(event));
  let deferred: string[] = [];
  manager.on("storeError", (error: { code?: string }) => deferred.push(String(error.code)));
  const drain = (): { events: EngineEvent[]; deferredCommits: string[] } => {
    const taken = { events, deferredCommits: deferred };
    events = [];
    deferred = [];
    return taken;
  };
  const handle: EngineHandle = {
    async send(channel, payload, ephemeral) {
      drain();
      const result = await manager.send(channel, payload, { ephemeral });
      return { messageId: result.messageId, bytes: result.wire, wire: [], delivered: [], ...drain() };
    },
    async receive(bytes) {
      drain();
      const result = await manager.receive(bytes);
      return { wire: [], delivered: result.delivered, ...drain() };
    },
    async tick() {
      drain();
      const result = await manager.tick();
      return { wire: result.wire, delivered: result.delivered, ...drain() };
    },
    inspect(channel) {
      return manager.inspect(channel);
    },
    holdings(channel) {
      const state = manager.inspect(channel);
      if (state === undefined) return undefined;
      return {
        history: new Set(state.history.ids()), outgoing: new Set(state.outgoing.keys()),
        buffered: state.incoming.size + state.outgoingRepair.size + state.incomingRepair.size,
      };
    },
  };
  return ok(handle);
}

/** A peer's "disk": survives crashes (memory) or is reopened from its file (SQLite). */
export interface BackingStore {
  persistence: Persistence;
  closed: boolean;
  /** What a crash does to this store (SQLite: close the connection; memory: nothing). */
  onCrashClose: () => Promise<void>;
  close(): Promise<void>;
}

/** Opens (or reopens after a crash) the backing store of `peerId`. */
export async function openBackingStore(kind: StoreKind, directory: string | undefined, peerId: string, previous: BackingStore | undefined): Promise<BackingStore> {
  if (kind === "memory" || kind === "model") {
    const persistence = previous?.persistence ?? (kind === "memory" ? new MemoryPersistence() : new ModelStore());
    const store: BackingStore = {
      persistence, closed: false, onCrashClose: async () => undefined,
      async close() {
        store.closed = true;
      },
    };
    return store;
  }
  if (directory === undefined) throw new Error("sqlite store needs a directory");
  const { openSqliteStore } = await import("./sqlite-backing.js");
  const persistence = await openSqliteStore(join(directory, `${peerId}.db`));
  const store: BackingStore = {
    persistence, closed: false,
    onCrashClose: async () => store.close(),
    async close() {
      if (store.closed) return;
      store.closed = true;
      await persistence.close();
    },
  };
  return store;
}
