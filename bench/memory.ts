/**
 * Memory: what holding 100,000 local-history entries across 10 channels costs, for our
 * ReliabilityManager (memory only) and @waku/sds MessageChannel, each in a fresh process
 * (`--expose-gc`) next to a baseline process that only loads the same modules.
 *
 * Each channel receives 10,000 in-order spec-dialect content messages from one peer
 * (40-byte content, 2 causal-history entries, no bloom filter), built in chunks so the
 * input bytes are garbage by the time we measure. Figures: peak RSS (getrusage maxRSS),
 * RSS and heapUsed after a full GC, and heap bytes per entry.
 *
 *   node --import tsx bench/memory.ts   [BENCH_MEMORY_ENTRIES=100000] [BENCH_MEMORY_WAKU_BUDGET_S=120]
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Message, MessageChannel, MessageChannelEvent } from "@waku/sds";
import { contentMessageId } from "../src/core/protocol/message-id.js";
import type { SdsMessage } from "../src/core/protocol/types.js";
import { encodeMessage } from "../src/core/protocol/wire/index.js";
import { ReliabilityManager } from "../src/core/reliability-manager.js";
import { emitFigures, printTable } from "./lib.js";

type Subject = "baseline" | "ours" | "waku";
const CHANNELS = 10;
const ENTRIES = Number(process.env.BENCH_MEMORY_ENTRIES ?? 100_000);
/** @waku/sds scans its history per message (quadratic fill), so it is compared at a smaller size. */
const WAKU_ENTRIES = Number(process.env.BENCH_MEMORY_WAKU_ENTRIES ?? 10_000);
const entriesIndex = process.argv.indexOf("--entries");
const CHILD_ENTRIES = entriesIndex >= 0 ? Number(process.argv[entriesIndex + 1]) : ENTRIES;
const PER_CHANNEL = Math.floor(CHILD_ENTRIES / CHANNELS);
const CHUNK = 1_000;
const WAKU_BUDGET_S = Number(process.env.BENCH_MEMORY_WAKU_BUDGET_S ?? 120);
const MIB = 2 ** 20;

interface Sample { subject: Subject; entries: number; seconds: number; peakRssBytes: number; rssBytes: number; heapUsedBytes: number; arrayBuffersBytes: number; complete: boolean }

const encoder = new TextEncoder();

/** One chunk of a channel's in-order messages from "alice", chained by causal history. */
function chunkOf(channel: number, from: number, previous: string[]): Uint8Array[] {
  const wires: Uint8Array[] = [];
  for (let index = from; index < Math.min(from + CHUNK, PER_CHANNEL); index++) {
    const content = encoder.encode(`channel ${channel} message ${String(index).padStart(8, "0")} ..`.padEnd(40, "."));
    const messageId = contentMessageId(content);
    const message: SdsMessage = {
      senderId: "alice", messageId, channelId: `channel-${channel}`, lamportTimestamp: BigInt(1_700_000_000_000 + index),
      causalHistory: previous.slice(-2).map((id) => ({ messageId: id })), content, repairRequest: [],
    };
    wires.push(encodeMessage(message, { dialect: "spec" }));
    previous.push(messageId);
    if (previous.length > 2) previous.shift();
  }
  return wires;
}

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect === undefined) throw new Error("run the child with --expose-gc");
  collect();
  collect();
}

async function fillOurs(deadline: number): Promise<{ held: unknown; entries: number }> {
  const manager = new ReliabilityManager({ participantId: "bob", now: () => 1_800_000_000_000, config: { historyEntriesMax: PER_CHANNEL * 2 } });
  let entries = 0;
  for (let channel = 0; channel < CHANNELS; channel++) {
    const previous: string[] = [];
    for (let from = 0; from < PER_CHANNEL && performance.now() < deadline; from += CHUNK) {
      const results = await manager.receiveMany(chunkOf(channel, from, previous));
      for (const result of results) if ("error" in result) throw result.error;
      entries += results.length;
    }
  }
  if (manager.loadedChannels().length !== CHANNELS) throw new Error("ours lost a channel");
  return { held: manager, entries };
}

async function fillWaku(deadline: number): Promise<{ held: unknown; entries: number }> {
  const channels: MessageChannel[] = [];
  let delivered = 0;
  let entries = 0;
  for (let channel = 0; channel < CHANNELS; channel++) {
    const messageChannel = new MessageChannel(`channel-${channel}`, "bob");
    messageChannel.addEventListener(MessageChannelEvent.InMessageDelivered, () => delivered++);
    channels.push(messageChannel);
    const previous: string[] = [];
    for (let from = 0; from < PER_CHANNEL && performance.now() < deadline; from += CHUNK) {
      for (const bytes of chunkOf(channel, from, previous)) {
        const message = Message.decode(bytes);
        if (message === undefined) throw new Error("waku could not decode");
        messageChannel.pushIncomingMessage(message, undefined);
        entries++;
      }
      await messageChannel.processTasks();
    }
  }
  if (delivered !== entries) throw new Error(`waku delivered ${delivered} of ${entries}`);
  return { held: channels, entries };
}

async function child(subject: Subject): Promise<void> {
  gc();
  const start = performance.now();
  const deadline = subject === "waku" ? start + WAKU_BUDGET_S * 1000 : Number.POSITIVE_INFINITY;
  const filled = subject === "ours" ? await fillOurs(deadline) : subject === "waku" ? await fillWaku(deadline) : { held: null, entries: 0 };
  const seconds = (performance.now() - start) / 1000;
  gc();
  const usage = process.memoryUsage();
  const sample: Sample = {
    subject, entries: filled.entries, seconds, peakRssBytes: process.resourceUsage().maxRSS * 1024, rssBytes: usage.rss,
    heapUsedBytes: usage.heapUsed, arrayBuffersBytes: usage.arrayBuffers, complete: subject === "baseline" || filled.entries === PER_CHANNEL * CHANNELS,
  };
  process.stdout.write(`${JSON.stringify(sample)}\n`);
  if (filled.held === undefined) process.exit(1); // keeps `held` alive until after the measurement
}

function spawnChild(subject: Subject, entries: number): Sample {
  const script = fileURLToPath(import.meta.url);
  const result = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", script, "--subject", subject, "--entries", String(entries)], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  if (result.status !== 0) throw new Error(`memory child ${subject} exited ${result.status}`);
  const lines = result.stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]!) as Sample;
}

const subjectIndex = process.argv.indexOf("--subject");
if (subjectIndex >= 0) {
  await child(process.argv[subjectIndex + 1] as Subject);
} else {
  const baseline = spawnChild("baseline", 0);
  const ours = spawnChild("ours", ENTRIES);
  const oursSmall = spawnChild("ours", WAKU_ENTRIES);
  const waku = spawnChild("waku", WAKU_ENTRIES);
  const held = (s: Sample) => s.heapUsedBytes + s.arrayBuffersBytes - baseline.heapUsedBytes - baseline.arrayBuffersBytes;
  const perEntry = (s: Sample) => (s.entries === 0 ? Number.NaN : held(s) / s.entries);
  const row = (s: Sample) => ({
    subject: s.subject === "baseline" ? "node + modules only" : s.subject === "ours" ? "sds-toolkit ReliabilityManager" : "@waku/sds MessageChannel",
    entries: s.entries, "fill s": s.seconds, "peak RSS MiB": s.peakRssBytes / MIB, "RSS MiB": s.rssBytes / MIB, "heap+buffers MiB": (s.heapUsedBytes + s.arrayBuffersBytes) / MIB,
    "B/entry": s.subject === "baseline" ? "" : perEntry(s), complete: s.complete ? "yes" : `no (${WAKU_BUDGET_S} s budget)`,
  });
  printTable(`memory holding history entries across ${CHANNELS} channels (after full GC; B/entry = heap + array buffers over the baseline)`, [row(baseline), row(ours), row(oursSmall), row(waku)]);
  const figure = (s: Sample) => ({
    entries: s.entries, seconds: s.seconds, peakRssMiB: s.peakRssBytes / MIB, rssMiB: s.rssBytes / MIB, heapUsedMiB: s.heapUsedBytes / MIB,
    arrayBuffersMiB: s.arrayBuffersBytes / MIB, bytesPerEntry: perEntry(s), complete: s.complete ? 1 : 0,
  });
  emitFigures("memory", {
    entries: ENTRIES,
    baseline: { peakRssMiB: baseline.peakRssBytes / MIB, rssMiB: baseline.rssBytes / MIB, heapUsedMiB: baseline.heapUsedBytes / MIB },
    ours: figure(ours),
    oursAtWakuSize: figure(oursSmall),
    waku: figure(waku),
    wakuOverOursBytesPerEntry: perEntry(waku) / perEntry(oursSmall),
    wakuOverOursPeakRss: waku.peakRssBytes / oursSmall.peakRssBytes,
  });
}
