/**
 * F14, the differential peer: an `@waku/sds` 0.0.8 `MessageChannel` (the reference JS
 * implementation, spec dialect) behind the same `EngineHandle` the simulator drives our
 * `ReliabilityManager` through, so it can sit in a seeded world beside our peers and exchange
 * spec-dialect bytes with them over the simulated network.
 *
 * Determinism: @waku/sds reads `Date.now()` (lamport start, lost timeouts, SDS-R timers) and
 * `Math.random()` (sync message ids) and has no timers of its own; every call into it runs with
 * both replaced by the peer's virtual clock and a seeded stream, restored afterwards. The driver
 * plays the application: it runs `processTasks`, sweeps the incoming, outgoing and repair buffers
 * on each tick, resends unacknowledged messages and sends periodic syncs.
 *
 * @waku/sds raises `InMessageDelivered` again when a delivered message arrives a second time
 * (it keeps no received-id set for messages delivered at once); the adapter hands each id to
 * the application once, as an application would, and counts the repeats (`waku.redelivered-event`).
 */
import { Message, MessageChannel, MessageChannelEvent, type HistoryEntry as WakuHistoryEntry } from "@waku/sds";
import { type Result, SdsError, ok } from "../../src/core/errors.js";
import type { Delivered, EngineEvent } from "../../src/core/protocol/engine/events.js";
import type { SdsMessage } from "../../src/core/protocol/types.js";
import { decodeMessage } from "../../src/core/protocol/wire/index.js";
import type { Counters } from "./counters.js";
import type { EngineHandle, OpenEngineOptions, OperationOutcome } from "./engine-adapter.js";

/** Internals of a MessageChannel the simulator reads for convergence probes (not part of its API). */
interface ChannelInternals {
  localHistory: { slice(): Array<{ messageId: string }> };
  outgoingBuffer: Array<{ messageId: string }>;
  incomingBuffer: unknown[];
}

/** Resend bookkeeping for one own content message. */
interface Pending {
  payload: Uint8Array;
  attempts: number;
  lastMs: number;
}

/** Runs `body` with `Date.now` and `Math.random` pinned to the peer's virtual clock and stream. */
async function pinned<T>(now: () => number, random: () => number, body: () => Promise<T>): Promise<T> {
  const realNow = Date.now;
  const realRandom = Math.random;
  Date.now = () => Math.floor(now());
  Math.random = random;
  try {
    return await body();
  } finally {
    Date.now = realNow;
    Math.random = realRandom;
  }
}

function historyEntries(entries: readonly WakuHistoryEntry[]): Array<{ messageId: string }> {
  return entries.map((entry) => ({ messageId: entry.messageId }));
}

/** Builds a @waku/sds peer incarnation. It keeps nothing across restarts (no persistence). */
export async function openWakuEngine(options: OpenEngineOptions, counters: Counters): Promise<Result<EngineHandle>> {
  const { params, now } = options;
  const random = (): number => options.random.float();
  const config = params.config;
  const channels = new Map<string, MessageChannel>();
  const known = new Map<string, SdsMessage>();
  const handed = new Set<string>();
  const pending = new Map<string, Pending>();
  const lastSyncMs = new Map<string, number>();
  let events: EngineEvent[] = [];
  let delivered: Delivered[] = [];

  const listen = (channelId: string, channel: MessageChannel): void => {
    channel.addEventListener(MessageChannelEvent.InMessageDelivered, (event) => {
      const messageId = (event as CustomEvent<string>).detail;
      const message = known.get(messageId);
      if (handed.has(messageId) || message === undefined) {
        counters.add(message === undefined ? "waku.delivered-unknown" : "waku.redelivered-event");
        return;
      }
      handed.add(messageId);
      const item: Delivered = {
        channelId, messageId, senderId: message.senderId, lamportTimestamp: message.lamportTimestamp,
        content: message.content ?? new Uint8Array(), ephemeral: false,
      };
      delivered.push(item);
      events.push({ type: "delivered", channelId, delivered: item });
    });
    channel.addEventListener(MessageChannelEvent.OutMessageAcknowledged, (event) => {
      const messageId = (event as CustomEvent<string>).detail;
      pending.delete(messageId);
      // @waku/sds does not say whether causal history or the bloom filter acknowledged it.
      events.push({ type: "acknowledged", channelId, messageId, by: "waku" as "bloom" });
    });
    channel.addEventListener(MessageChannelEvent.InMessageMissing, (event) => {
      const missing = (event as CustomEvent<WakuHistoryEntry[]>).detail;
      if (missing.length > 0) events.push({ type: "missing", channelId, messageId: "", missing: historyEntries(missing) });
    });
    channel.addEventListener(MessageChannelEvent.InMessageLost, (event) => {
      const missing = (event as CustomEvent<WakuHistoryEntry[]>).detail;
      events.push({ type: "lost", channelId, messageId: "", missing: historyEntries(missing) });
    });
    channel.addEventListener(MessageChannelEvent.ErrorTask, () => counters.add("waku.task-error"));
    channel.addEventListener(MessageChannelEvent.RepairResponseSent, () => counters.add("waku.repair-response-sent"));
    channel.addEventListener(MessageChannelEvent.RepairRequestSent, () => counters.add("waku.repair-request-sent"));
  };

  const channelOf = (channelId: string): MessageChannel => {
    let channel = channels.get(channelId);
    if (channel === undefined) {
      channel = new MessageChannel(channelId, options.participantId, {
        causalHistorySize: config.causalHistorySize,
        repairConfig: { tMin: config.repairTMinMs, tMax: config.repairTMaxMs },
      });
      listen(channelId, channel);
      channels.set(channelId, channel);
    }
    return channel;
  };

  const drain = (wire: Uint8Array[] = []): OperationOutcome => {
    const outcome = { wire, delivered, events, deferredCommits: [] };
    events = [];
    delivered = [];
    return outcome;
  };

  const tickChannel = async (channelId: string, channel: MessageChannel, wire: Uint8Array[]): Promise<void> => {
    await channel.processTasks();
    channel.sweepIncomingBuffer();
    const at = now();
    for (const message of channel.sweepOutgoingBuffer().unacknowledged) {
      const state = pending.get(message.messageId);
      if (state === undefined || at - state.lastMs < (config.resendIntervalMs ?? 1_000)) continue;
      if (state.attempts >= (config.maxResendAttempts ?? 5)) continue;
      state.attempts += 1;
      state.lastMs = at;
      channel.pushOutgoingMessage(state.payload, async (resent) => {
        wire.push(resent.encode());
        return { success: true };
      });
      await channel.processTasks();
      counters.add("waku.resend");
    }
    if (at - (lastSyncMs.get(channelId) ?? Number.NEGATIVE_INFINITY) >= (config.syncIntervalMs ?? 500)) {
      lastSyncMs.set(channelId, at);
      await channel.pushOutgoingSyncMessage(async (sync) => {
        wire.push(sync.encode());
        return true;
      });
    }
    await channel.sweepRepairIncomingBuffer(async (repair) => {
      wire.push(repair.encode());
      return true;
    });
  };

  const handle: EngineHandle = {
    volatile: true,
    send: (channelId, payload, ephemeral) => pinned(now, random, async () => {
      const channel = channelOf(channelId);
      let sent: Message | undefined;
      if (ephemeral) {
        await channel.pushOutgoingEphemeralMessage(payload, async (message) => {
          sent = message;
          return true;
        });
      } else {
        channel.pushOutgoingMessage(payload, async (message) => {
          sent = message;
          return { success: true };
        });
      }
      await channel.processTasks();
      if (sent === undefined) throw new SdsError("E_INTERNAL", "@waku/sds did not hand the message to the transport");
      if (!ephemeral) pending.set(sent.messageId, { payload, attempts: 0, lastMs: now() });
      return { messageId: sent.messageId, bytes: sent.encode(), ...drain() };
    }),
    receive: (bytes) => pinned(now, random, async () => {
      const decoded = Message.decode(bytes);
      if (decoded === undefined) return drain();
      try {
        const ours = decodeMessage(bytes, { dialect: "spec" });
        if (!known.has(ours.messageId)) known.set(ours.messageId, ours);
      } catch {
        counters.add("waku.accepted-what-we-reject");
      }
      const channel = channelOf(decoded.channelId);
      channel.pushIncomingMessage(decoded, undefined);
      await channel.processTasks();
      channel.sweepIncomingBuffer();
      return drain();
    }),
    tick: () => pinned(now, random, async () => {
      const wire: Uint8Array[] = [];
      for (const channelId of params.channels) await tickChannel(channelId, channelOf(channelId), wire);
      return drain(wire);
    }),
    inspect: () => undefined,
    holdings(channelId) {
      const channel = channels.get(channelId);
      if (channel === undefined) return undefined;
      const inner = channel as unknown as ChannelInternals;
      return {
        history: new Set(inner.localHistory.slice().map((message) => message.messageId)),
        outgoing: new Set(inner.outgoingBuffer.map((message) => message.messageId)),
        buffered: inner.incomingBuffer.length,
      };
    },
  };
  return ok(handle);
}
