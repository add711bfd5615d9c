/**
 * The `sds demo` scenario, independent of oclif: an embedded relay on a random loopback port
 * whose link drops and duplicates live deliveries, three peers (alice, bob, carol) each with
 * its own SQLite database in a temp dir and its own WebSocket client, each sending `messages`
 * payloads ("alice #1", …) at random intervals. SDS timings are shortened (resends, repair,
 * sync in the hundreds of ms) so losses heal within seconds. It ends when every peer has
 * delivered every other peer's messages and all sends are acknowledged (or at the timeout),
 * and it checks: complete, exactly once, causal order (each message after every dependency it
 * names, and each sender's messages in send order).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SdsConfig } from "../core/protocol/config.js";
import { RelayClient } from "../core/relay/client.js";
import { RelayServer } from "../core/relay/server.js";
import type { DeliveredView } from "./render.js";
import { sleep } from "./send-loop.js";
import { ChannelSession } from "./session.js";

/** The shortened SDS timings of the demo (ms); printed so nobody mistakes them for defaults. */
export const DEMO_SDS_CONFIG: Readonly<Partial<SdsConfig>> = Object.freeze({
  resendIntervalMs: 600,
  maxResendAttempts: 30,
  repairTMinMs: 200,
  repairTMaxMs: 800,
  syncIntervalMs: 1000,
});
/** Engine tick interval of the demo peers, ms. */
export const DEMO_TICK_INTERVAL_MS = 100;
/** The peers of the demo. */
export const DEMO_PEERS = ["alice", "bob", "carol"] as const;

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Messages each peer sends. */
  messages: number;
  /** Probability a live delivery is dropped by the link. */
  dropRate: number;
  /** Probability a live delivery is duplicated by the link. */
  duplicateRate: number;
  /** Seed of the link's faults. */
  seed: number;
  /** Give up after this long, ms. */
  timeoutMs: number;
  /** Largest pause between two sends of one peer, ms. */
  sendGapMsMax: number;
  /** Keep the databases (in `dir`). */
  keep: boolean;
  /** Aborts the run (Ctrl-C). */
  signal: AbortSignal;
  /** Called about every 100 ms with the current state. */
  onProgress?: (report: DemoReport) => void;
}

/** One peer's line of the final table. */
export interface DemoPeerReport {
  peer: string;
  participantId: string;
  sent: number;
  /** Whole payloads delivered from the other peers. */
  delivered: number;
  expected: number;
  /** Own messages acknowledged by the others (SDS). */
  acknowledged: number;
  /** Re-publications of own unacknowledged messages. */
  resent: number;
  /** Envelopes recovered from the relay store by retrieval hint or time range. */
  fetched: number;
  /** SDS-R: missing messages asked for, and rebroadcasts answered. */
  repairRequested: number;
  repairAnswered: number;
  duplicatesDelivered: number;
  outOfOrder: number;
  missing: number;
}

/** What the demo did and whether it converged. */
export interface DemoReport {
  relayUrl: string;
  dir: string;
  kept: boolean;
  messagesPerPeer: number;
  dropRate: number;
  duplicateRate: number;
  seed: number;
  sdsConfig: Partial<SdsConfig>;
  elapsedMs: number;
  peers: DemoPeerReport[];
  link: { delivered: number; dropped: number; duplicated: number };
  /** Every peer delivered every other peer's messages exactly once, in causal order. */
  converged: boolean;
  /** Every sent message was acknowledged. */
  allAcknowledged: boolean;
}

interface PeerRun {
  name: string;
  session: ChannelSession;
  delivered: DeliveredView[];
  seenIds: Set<string>;
  duplicates: number;
  sent: number;
  ownIds: Set<string>;
}

/** Runs the demo; always closes what it opened. */
export async function runDemo(options: DemoOptions): Promise<DemoReport> {
  const dir = mkdtempSync(join(tmpdir(), "sds-demo-"));
  const server = new RelayServer({ host: "127.0.0.1", port: 0, faults: { dropRate: options.dropRate, duplicateRate: options.duplicateRate, seed: options.seed }, unref: true, heartbeatIntervalMs: 0 });
  const startedMs = Date.now();
  const peers: PeerRun[] = [];
  let relayUrl = "";
  try {
    relayUrl = (await server.start()).url;
    for (const name of DEMO_PEERS) {
      const client = await RelayClient.connect(relayUrl, { pingIntervalMs: 0 });
      const session = await ChannelSession.open({ channel: "demo", identity: name, dbPath: join(dir, `${name}.db`), transport: client, receive: true, sdsConfig: DEMO_SDS_CONFIG, tickIntervalMs: DEMO_TICK_INTERVAL_MS });
      const run: PeerRun = { name, session, delivered: [], seenIds: new Set(), duplicates: 0, sent: 0, ownIds: new Set() };
      session.onMessage((message) => {
        if (run.seenIds.has(message.id)) run.duplicates += 1;
        run.seenIds.add(message.id);
        run.delivered.push(message);
      });
      peers.push(run);
    }
    const report = () => buildReport(peers, server, { relayUrl, dir, options, startedMs });
    const ticker = setInterval(() => options.onProgress?.(report()), 100);
    ticker.unref();
    try {
      await Promise.all(peers.map((peer) => sendMessages(peer, options)));
      const deadline = startedMs + options.timeoutMs;
      while (!options.signal.aborted && Date.now() < deadline) {
        const current = report();
        if (current.converged && current.allAcknowledged) break;
        await sleep(100);
      }
    } finally {
      clearInterval(ticker);
    }
    return report();
  } finally {
    for (const peer of peers) {
      await peer.session.close().catch(() => undefined);
      await peer.session.transport.close().catch(() => undefined);
    }
    await server.close();
    if (!options.keep) rmSync(dir, { recursive: true, force: true });
  }
}

async function sendMessages(peer: PeerRun, options: DemoOptions): Promise<void> {
  for (let index = 1; index <= options.messages && !options.signal.aborted; index += 1) {
    await sleep(Math.floor(Math.random() * options.sendGapMsMax));
    const receipt = await peer.session.send(new TextEncoder().encode(`${peer.name} #${index}`));
    for (const id of receipt.messageIds) peer.ownIds.add(id);
    peer.sent += 1;
  }
}

function buildReport(peers: PeerRun[], server: RelayServer, context: { relayUrl: string; dir: string; options: DemoOptions; startedMs: number }): DemoReport {
  const { options } = context;
  const allIds = new Set<string>();
  for (const peer of peers) for (const id of peer.ownIds) allIds.add(id);
  const rows = peers.map((peer): DemoPeerReport => {
    const check = checkOrder(peer, allIds);
    const counters = peer.session.counters;
    const channel = peer.session.channel.counters;
    return {
      peer: peer.name,
      participantId: peer.session.participantId,
      sent: peer.sent,
      delivered: peer.seenIds.size,
      expected: options.messages * (peers.length - 1),
      acknowledged: counters.acknowledged,
      resent: counters.resent,
      fetched: channel.fetchedEnvelopes,
      repairRequested: counters.repairRequested,
      repairAnswered: counters.repairAnswered,
      duplicatesDelivered: peer.duplicates,
      outOfOrder: check.outOfOrder,
      missing: check.missing,
    };
  });
  const stats = server.stats();
  const converged = rows.every((row) => row.sent === options.messages && row.delivered === row.expected && row.missing === 0 && row.duplicatesDelivered === 0 && row.outOfOrder === 0);
  const allAcknowledged = rows.every((row) => row.acknowledged >= row.sent);
  return {
    relayUrl: context.relayUrl,
    dir: context.dir,
    kept: options.keep,
    messagesPerPeer: options.messages,
    dropRate: options.dropRate,
    duplicateRate: options.duplicateRate,
    seed: options.seed,
    sdsConfig: { ...DEMO_SDS_CONFIG },
    elapsedMs: Date.now() - context.startedMs,
    peers: rows,
    link: { delivered: stats.delivered, dropped: stats.droppedByFaults, duplicated: stats.duplicatedByFaults },
    converged,
    allAcknowledged,
  };
}

/**
 * Causal-order check of one peer's deliveries: every dependency that is a demo message must be
 * the peer's own or delivered before; each sender's payloads must come in send order; and
 * every other peer's message must be there.
 */
export function checkOrder(peer: { name: string; delivered: readonly DeliveredView[]; ownIds: ReadonlySet<string> }, allIds: ReadonlySet<string>): { outOfOrder: number; missing: number } {
  const before = new Set<string>(peer.ownIds);
  const lastIndex = new Map<string, number>();
  let outOfOrder = 0;
  for (const message of peer.delivered) {
    const badDependency = message.dependencies.some((dependency) => allIds.has(dependency) && !before.has(dependency));
    const match = /^(\w+) #(\d+)$/.exec(new TextDecoder().decode(message.payload));
    const index = match ? Number(match[2]) : 0;
    const sender = match ? (match[1] as string) : message.sender;
    if (badDependency || index <= (lastIndex.get(sender) ?? 0)) outOfOrder += 1;
    lastIndex.set(sender, Math.max(index, lastIndex.get(sender) ?? 0));
    before.add(message.id);
  }
  let expectedFromOthers = 0;
  for (const id of allIds) if (!peer.ownIds.has(id)) expectedFromOthers += 1;
  const deliveredIds = new Set(peer.delivered.map((message) => message.id));
  let missing = 0;
  for (const id of allIds) if (!peer.ownIds.has(id) && !deliveredIds.has(id)) missing += 1;
  return { outOfOrder, missing: Math.min(missing, expectedFromOthers) };
}
