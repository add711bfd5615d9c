/**
 * What a {@link ChannelSession} puts around its engine and its relay: the connection (given URL
 * or the default local relay, started in-process when none listens), an engine wrapper that
 * remembers each received message's causal history for its delivery view and counts the
 * receive path's batching, and a transport wrapper that shows every envelope to the session
 * (capture, seen hashes, cursor) before the channel gets it.
 */
import type { SdsError } from "../core/errors.js";
import type { ReliabilityEngine } from "../core/channel/options.js";
// The engine's own decoder (a fast path for common messages; same limits the manager applies).
import { decodeWire } from "../core/protocol/engine/ports.js";
import { RelayClient, type RelayClientEvent } from "../core/relay/client.js";
import { ensureLocalRelay } from "../core/relay/local.js";
import type { ReceivedEnvelope, RelayTransport, Subscription } from "../core/relay/transport.js";
import type { BatchOperation, ReliabilityManager } from "../core/reliability-manager.js";

/**
 * Publishes awaiting the relay's confirmation at once (the client's default is 1,000). Each
 * publish's 10 s timeout runs from when it leaves; 1,000 spec envelopes of ~35 kB (35 MB) queued
 * at a relay that also fans out to listeners took longer than that on a busy machine, and every
 * timed-out publish then waited for SDS's 30 s resend. 128 (~4.5 MB) keeps the pipe full.
 */
const PUBLISH_IN_FLIGHT_MAX = 128;

/** Connects to `url`, or to the default local relay (starting one in-process when none listens). */
export async function connectRelay(url: string | undefined, onStatus?: (text: string) => void): Promise<{ transport: RelayTransport; url: string; close: () => Promise<void> }> {
  const onEvent = (event: RelayClientEvent) => {
    if (!onStatus) return;
    if (event.type === "disconnected") onStatus(`relay connection lost (${event.code}${event.reason ? ` ${event.reason}` : ""}); reconnecting`);
    else if (event.type === "connected" && event.reconnect) onStatus(`relay reconnected: ${event.url}`);
    else if (event.type === "gaveUp") onStatus(`gave up reconnecting after ${event.attempts} attempts`);
    else if (event.type === "caughtUp" && event.messages > 0) onStatus(`caught up on ${event.messages} stored messages from the relay`);
  };
  if (url !== undefined && url !== "") {
    const client = await RelayClient.connect(url, { onEvent, publishInFlightMax: PUBLISH_IN_FLIGHT_MAX });
    return { transport: client, url, close: () => client.close() };
  }
  const local = await ensureLocalRelay({ client: { onEvent, publishInFlightMax: PUBLISH_IN_FLIGHT_MAX } });
  if (local.server) onStatus?.(`no relay was listening: started one in this process at ${local.url} (it stops when this command ends)`);
  return { transport: local.client, url: local.url, close: () => local.close() };
}

/** Wraps the manager so every received SDS message's causal history is remembered for its delivery. */
export function observeEngine(manager: ReliabilityManager, remember: (messageId: string, dependencies: string[]) => void, counted: (wires: number) => void): ReliabilityEngine {
  return {
    dialect: manager.dialect,
    send: (channelId, payload, options) => manager.send(channelId, payload, options),
    sendMany: (channelId, payloads) => manager.sendMany(channelId, payloads),
    receive: async (wire, options) => {
      counted(1);
      try {
        const message = decodeWire(wire, manager.dialect.name, manager.config);
        remember(message.messageId, message.causalHistory.map((entry) => entry.messageId));
      } catch {
        // The manager reports undecodable bytes itself.
      }
      return manager.receive(wire, options);
    },
    receiveBatch: async (channelId, items) => {
      // One manager batch (one commit); wires of another SDS channel are answered `ignored` without touching it.
      counted(items.length);
      const slots: Array<ReceiveSlot | undefined> = [];
      const operations: BatchOperation[] = [];
      for (const item of items) {
        let message;
        try {
          message = decodeWire(item.wire, manager.dialect.name, manager.config);
        } catch {
          message = undefined; // the manager's own decode reports it in its slot
        }
        if (message !== undefined && message.channelId !== channelId) {
          slots.push({ channelId: message.channelId, messageId: message.messageId, duplicate: false, ignored: true, delivered: [], missing: [], acknowledged: [] });
          continue;
        }
        if (message !== undefined) remember(message.messageId, message.causalHistory.map((entry) => entry.messageId));
        slots.push(undefined);
        operations.push(message === undefined ? { op: "receive", wire: item.wire, retrievalHint: item.retrievalHint } : { op: "receive", wire: item.wire, retrievalHint: item.retrievalHint, message });
      }
      const results = operations.length > 0 ? await manager.batch(operations) : [];
      let next = 0;
      return slots.map((slot) => slot ?? (results[next++] as ReceiveSlot));
    },
    tick: () => manager.tick(),
  };
}

type ReceiveSlot = Awaited<ReturnType<ReliabilityEngine["receive"]>> | { error: SdsError };

/**
 * A transport that shows every received envelope to `seen` (capture, seen hashes) before the
 * channel gets it; subscription deliveries go to `deliver` (the session's cursor-advancing
 * ingest) when given, else to the channel's own handler.
 */
export function trackCursor(transport: RelayTransport, seen: (message: ReceivedEnvelope) => void, deliver: (message: ReceivedEnvelope) => boolean): RelayTransport {
  const seenAll = (found: ReceivedEnvelope[]) => {
    for (const message of found) seen(message);
    return found;
  };
  return {
    publish: (topic, envelope) => transport.publish(topic, envelope),
    subscribe: (topic, handler, options): Subscription =>
      transport.subscribe(
        topic,
        (message) => {
          seen(message);
          if (!deliver(message)) handler(message);
        },
        options,
      ),
    fetchByHashes: (topic, hashes) => transport.fetchByHashes(topic, hashes).then(seenAll),
    fetchSince: (topic, since, options) => transport.fetchSince(topic, since, options).then(seenAll),
    close: () => transport.close(),
  };
}
