/**
 * Prints the Markdown table of ratios (median over the runs) against each anchor, with the
 * targets of the benchmark issue and whether each is met, from bench/results.json (or the
 * file given). This is the table in the README and docs/benchmarks.md.
 *
 *   node --import tsx bench/report.ts [bench/results.json]
 */
import { existsSync, readFileSync } from "node:fs";
import { formatNumber } from "./lib.js";

interface Figure { min: number; median: number; max: number }
interface Results {
  generatedAt: string;
  repeats: number;
  machine: { platform: string; arch: string; cpus: number; cpuModel: string; memoryGiB: number };
  versions: Record<string, string>;
  results: Record<string, Record<string, Figure>>;
}

interface Line {
  what: string;
  bench: string;
  figure: string;
  anchor: string;
  /** `atLeast` / `atMost` targets; none = reported only. */
  target?: { atLeast?: number; atMost?: number };
  unit?: string;
}

const LINES: Line[] = [
  { what: "Engine, two-peer exchange, N = 1,000 (ours / theirs, msgs/s)", bench: "engine", figure: "oursOverWaku@1000", anchor: "@waku/sds MessageChannel", unit: "×" },
  { what: "Engine, N = 5,000", bench: "engine", figure: "oursOverWaku@5000", anchor: "@waku/sds MessageChannel", target: { atLeast: 50 }, unit: "×" },
  { what: "Engine, per-message cost flat (rate 20,000 / rate 1,000)", bench: "engine", figure: "oursFlatness@20000vs1000", anchor: "ours at N = 1,000", target: { atLeast: 0.8 } },
  { what: "Store, durable send commit (time per op)", bench: "store", figure: "ratioToRaw", anchor: "raw better-sqlite3 1-row transaction", target: { atMost: 1.5 }, unit: "×" },
  { what: "Store, cost at backlog 1,000", bench: "store", figure: "backlog1000TimeRatio", anchor: "ours at backlog 0", target: { atMost: 2 }, unit: "×" },
  { what: "Store, group-commit bulk send (FULL; acks in later transactions)", bench: "store", figure: "bulkMessagesPerSecond", anchor: "20,000 msgs/s", target: { atLeast: 20_000 }, unit: " msgs/s" },
  { what: "Store, group commit, acks in the same transaction (cannot happen under write-before-release)", bench: "store", figure: "bulkSameTransactionAcksMessagesPerSecond", anchor: "(absolute)", unit: " msgs/s" },
  { what: "Relay fan-out, 1 subscriber", bench: "relay", figure: "fanout1.ratio", anchor: "bare ws broadcast loop", target: { atLeast: 0.7 }, unit: "×" },
  { what: "Relay fan-out, 10 subscribers", bench: "relay", figure: "fanout10.ratio", anchor: "bare ws broadcast loop", target: { atLeast: 0.7 }, unit: "×" },
  { what: "Relay fan-out, 50 subscribers", bench: "relay", figure: "fanout50.ratio", anchor: "bare ws broadcast loop", target: { atLeast: 0.7 }, unit: "×" },
  { what: "End to end `send \\| relay \\| listen`, throughput (times slower)", bench: "e2e", figure: "throughputSlowdown", anchor: "bare WebSocket pipe", target: { atMost: 3 }, unit: "×" },
  { what: "End to end, p50 latency at 200 msgs/s (times higher)", bench: "e2e", figure: "pacedP50Slowdown", anchor: "bare WebSocket pipe", unit: "×" },
  { what: "`sds decode` of 100,000 blobs, MB/s (ours / protoc)", bench: "decode", figure: "sdsMessageOverProtoc", anchor: "protoc --decode_raw", unit: "×" },
  { what: "`sds decode --raw`, MB/s (ours / protoc)", bench: "decode", figure: "sdsRawOverProtoc", anchor: "protoc --decode_raw", unit: "×" },
  { what: "Start-up, `sds --version`", bench: "startup", figure: "versionVsNodeRatio", anchor: "node -e 0", target: { atMost: 3 }, unit: "×" },
  { what: "Start-up, `sds decode` of one blob", bench: "startup", figure: "decodeVsNodeRatio", anchor: "node -e 0", target: { atMost: 3 }, unit: "×" },
  { what: "Memory, 100,000 history entries / 10 channels: peak RSS", bench: "memory", figure: "ours.peakRssMiB", anchor: "(absolute)", unit: " MiB" },
  { what: "Memory, bytes per history entry (heap + buffers)", bench: "memory", figure: "ours.bytesPerEntry", anchor: "(absolute)", unit: " B" },
  { what: "Memory per entry at 10,000 entries (theirs / ours)", bench: "memory", figure: "wakuOverOursBytesPerEntry", anchor: "@waku/sds MessageChannel", unit: "×" },
  { what: "Bloom filter `add` (ours spec / theirs)", bench: "bloom", figure: "oursSpecOverWaku.add", anchor: "@waku/sds BloomFilter", unit: "×" },
];

function verdict(line: Line, value: number): string {
  if (line.target === undefined) return "—";
  const { atLeast, atMost } = line.target;
  const met = (atLeast === undefined || value >= atLeast) && (atMost === undefined || value <= atMost);
  return met ? "met" : "**not met**";
}

function targetText(line: Line): string {
  if (line.target === undefined) return "reported";
  const unit = line.unit ?? "";
  if (line.target.atLeast !== undefined) return `≥ ${formatNumber(line.target.atLeast)}${unit}`;
  return `≤ ${formatNumber(line.target.atMost!)}${unit}`;
}

const file = process.argv[2] ?? new URL("./results.json", import.meta.url).pathname;
if (!existsSync(file)) {
  process.stderr.write(`no ${file} yet: run \`npm run bench\` first\n`);
  process.stdout.write(`${JSON.stringify({ bench: "report", figures: {} })}\n`);
  process.exit(0);
}
const results = JSON.parse(readFileSync(file, "utf8")) as Results;
const rows = ["| What | Anchor | Median (min–max) | Target | |", "|---|---|---|---|---|"];
for (const line of LINES) {
  const figure = results.results[line.bench]?.[line.figure];
  if (figure === undefined) {
    rows.push(`| ${line.what} | ${line.anchor} | not measured | ${targetText(line)} | — |`);
    continue;
  }
  const unit = line.unit ?? "";
  rows.push(`| ${line.what} | ${line.anchor} | ${formatNumber(figure.median)}${unit} (${formatNumber(figure.min)}–${formatNumber(figure.max)}) | ${targetText(line)} | ${verdict(line, figure.median)} |`);
}
const machine = results.machine;
process.stdout.write(`${rows.join("\n")}\n\n`);
process.stdout.write(`Median of ${results.repeats} runs, ${results.generatedAt.slice(0, 10)}, ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, ${machine.platform}, Node ${results.versions.node}, @waku/sds ${results.versions["@waku/sds"]}.\n`);
