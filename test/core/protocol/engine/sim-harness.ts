/**
 * The seeded multi-peer network simulation used by simulation.test.ts: peers on a virtual
 * network that loses, reorders and duplicates, then heals; checks no-duplicate and causal
 * delivery on every delivery and eventual delivery at the end.
 */
import { decodeMessage } from "../../../../src/core/protocol/wire/index.js";
import type { DialectName } from "../../../../src/core/protocol/types.js";
import { ReliabilityManager } from "../../../../src/core/reliability-manager.js";
import { bytes, FakeClock, seededRandom, TestBus, TestPersistence } from "./support.js";

const CHANNEL = "sim";

interface InFlight {
  atMs: number;
  order: number;
  to: string;
  wire: Uint8Array;
}

export interface SimulationReport {
  sent: number;
  deliveries: number;
  drops: number;
  duplicates: number;
  restarts: number;
  violations: string[];
}

export async function simulate(seed: number, dialect: DialectName, options: { restarts?: boolean } = {}): Promise<SimulationReport> {
  const random = seededRandom(seed);
  const clock = new FakeClock();
  const peerCount = 3 + Math.floor(random() * 3);
  const lossRate = 0.05 + random() * 0.2;
  const duplicateRate = random() * 0.1;
  const config = { resendIntervalMs: 2_000, maxResendAttempts: 50, repairTMinMs: 1_000, repairTMaxMs: 6_000, syncIntervalMs: 3_000 };
  const bus = new TestBus(clock, { dialect, config });
  const names = Array.from({ length: peerCount }, (_, index) => `peer${index}`);
  const stores = new Map(names.map((name) => [name, new TestPersistence()]));
  const open = (name: string) => new ReliabilityManager({ participantId: name, dialect, now: clock.now, random: seededRandom(seed ^ name.length), config, persistence: stores.get(name)! });
  const peers = new Map<string, ReliabilityManager>(names.map((name) => [name, options.restarts === true ? open(name) : bus.add(name)]));
  const dependencies = new Map<string, string[]>();
  const delivered = new Map<string, string[]>(names.map((name) => [name, []]));
  const deliveredSet = new Map<string, Set<string>>(names.map((name) => [name, new Set()]));
  const own = new Map<string, Set<string>>(names.map((name) => [name, new Set()]));
  const queue: InFlight[] = [];
  const report: SimulationReport = { sent: 0, deliveries: 0, drops: 0, duplicates: 0, restarts: 0, violations: [] };
  let order = 0;
  let healed = false;

  const publish = (from: string, wires: readonly Uint8Array[]) => {
    for (const wire of wires) {
      for (const to of names) {
        if (to === from) continue;
        // The very first delivery is always lost, so every run exercises recovery.
        if (!healed && (report.drops === 0 || random() < lossRate)) {
          report.drops++;
          continue;
        }
        const copies = random() < duplicateRate ? 2 : 1;
        report.duplicates += copies - 1;
        for (let copy = 0; copy < copies; copy++) queue.push({ atMs: clock.nowMs + Math.floor(random() * 400), order: order++, to, wire });
      }
    }
  };

  const record = (peer: string, messages: ReadonlyArray<{ messageId: string }>) => {
    for (const { messageId } of messages) {
      const seen = deliveredSet.get(peer)!;
      if (seen.has(messageId)) report.violations.push(`${peer} delivered ${messageId} twice`);
      for (const dependency of dependencies.get(messageId) ?? []) {
        if (!seen.has(dependency) && !own.get(peer)!.has(dependency)) report.violations.push(`${peer} delivered ${messageId} before its dependency ${dependency}`);
      }
      seen.add(messageId);
      delivered.get(peer)!.push(messageId);
      report.deliveries++;
    }
  };

  const send = async (from: string, index: number) => {
    const sent = await peers.get(from)!.send(CHANNEL, bytes(`${from} #${index}`));
    dependencies.set(sent.messageId, decodeMessage(sent.wire, { dialect }).causalHistory.map((entry) => entry.messageId));
    own.get(from)!.add(sent.messageId);
    report.sent++;
    publish(from, [sent.wire]);
  };

  const step = async (stepMs: number) => {
    clock.advance(stepMs);
    if (options.restarts === true && !healed) {
      for (const name of names) {
        if (random() >= 0.03) continue;
        peers.set(name, open(name)); // a restart: the old process is gone, the store remains
        report.restarts++;
      }
    }
    queue.sort((a, b) => a.atMs - b.atMs || a.order - b.order);
    while (queue.length > 0 && queue[0]!.atMs <= clock.nowMs) {
      const flight = queue.shift()!;
      const result = await peers.get(flight.to)!.receive(flight.wire);
      record(flight.to, result.delivered);
    }
    for (const name of names) {
      const tick = await peers.get(name)!.tick();
      record(name, tick.delivered);
      publish(name, tick.wire);
    }
  };

  const messagesPerPeer = 12;
  for (let round = 0; round < messagesPerPeer; round++) {
    for (const name of names) if (random() < 0.8) await send(name, round);
    await step(300 + Math.floor(random() * 700));
    // Random restarts (3% per peer per step) miss a whole 3-peer run about a third of the time:
    // halfway through, a run that has not restarted anyone restarts one peer.
    if (options.restarts === true && round === messagesPerPeer / 2 && report.restarts === 0) {
      const name = names[Math.floor(random() * names.length)]!;
      peers.set(name, open(name));
      report.restarts++;
    }
  }
  healed = true;
  const complete = () => names.every((name) => deliveredSet.get(name)!.size + own.get(name)!.size === report.sent);
  for (let heal = 0; heal < 400 && !complete(); heal++) {
    if (dialect === "nim" && heal % 10 === 0) for (const name of names) await send(name, 1_000 + heal);
    await step(500);
  }
  for (const name of names) {
    const missing = [...dependencies.keys()].filter((id) => !deliveredSet.get(name)!.has(id) && !own.get(name)!.has(id));
    if (missing.length > 0) report.violations.push(`${name} never received ${missing.length} message(s), e.g. ${missing[0]}`);
  }
  return Object.assign(report, { peers, bus });
}

