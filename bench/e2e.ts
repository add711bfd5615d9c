/**
 * End to end through real processes: lines written into `sds send NAME --relay URL --as alice`
 * travel through `sds relay` to `sds listen NAME --relay URL --as bob --json`, next to a bare
 * WebSocket pipe of the same lines (sender process → `ws` broadcast server process → receiver
 * process, nothing else: no SDS, no store, no acks). This process writes every line (stamped
 * with its own clock) and reads every delivered line, so one clock measures the latency.
 *
 * Two phases per pipe: throughput (as fast as the stdin pipe takes lines; latency there is
 * queueing under saturation) and paced latency (a fixed rate well below capacity). Each
 * process's CPU (user + system, from /proc/<pid>/stat, polled every 50 ms from the moment all
 * three are ready) is reported per 1,000 lines: on a shared machine it moves less than the rates.
 *
 *   npm run build && node --import tsx bench/e2e.ts
 *     [BENCH_E2E_MESSAGES=2000] [BENCH_E2E_PACED_MESSAGES=1000] [BENCH_E2E_PACED_RATE=200]
 *     [BENCH_E2E_TIMEOUT_S=180] (a pass that times out reports what arrived, complete 0)
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { emitFigures, percentile, printTable } from "./lib.js";

const bin = fileURLToPath(new URL("../bin/run.js", import.meta.url));
const root = fileURLToPath(new URL("..", import.meta.url));
const MESSAGES = Number(process.env.BENCH_E2E_MESSAGES ?? 2_000);
const PACED_MESSAGES = Number(process.env.BENCH_E2E_PACED_MESSAGES ?? 1_000);
const PACED_RATE = Number(process.env.BENCH_E2E_PACED_RATE ?? 200);
const DEADLINE_MS = Number(process.env.BENCH_E2E_TIMEOUT_S ?? 180) * 1000;
const CHANNEL = "bench-e2e";

const BARE_SERVER = `import { WebSocketServer } from "ws";
const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
wss.on("listening", () => console.log("ws://127.0.0.1:" + wss.address().port));
wss.on("connection", (ws) => ws.on("message", (data, isBinary) => {
  for (const other of wss.clients) if (other !== ws && other.readyState === 1) other.send(data, { binary: isBinary });
}));`;
const BARE_SENDER = `import { WebSocket } from "ws"; import { createInterface } from "node:readline";
const ws = new WebSocket(process.argv[1], { perMessageDeflate: false });
ws.on("open", () => {
  process.stderr.write("ready\\n");
  const lines = createInterface({ input: process.stdin });
  lines.on("line", (line) => ws.send(line));
  lines.on("close", () => { const wait = () => ws.bufferedAmount === 0 ? ws.close() : setTimeout(wait, 5); wait(); });
});`;
const BARE_RECEIVER = `import { WebSocket } from "ws";
const ws = new WebSocket(process.argv[1], { perMessageDeflate: false });
let left = Number(process.argv[2]);
ws.on("open", () => process.stderr.write("ready\\n"));
ws.on("message", (data) => { process.stdout.write(data.toString() + "\\n"); if (--left === 0) { ws.close(); process.stdout.end(); } });`;

type Kind = "sds" | "bare";
interface Outcome {
  received: number; complete: boolean; messagesPerSecond: number; p50Ms: number; p99Ms: number; maxMs: number; senderExitedByItself: boolean;
  /** CPU (user + system) per 1,000 lines of each process, ms (NaN where /proc is unavailable). */
  cpuMsPerThousand: { sender: number; server: number; receiver: number };
}

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;
/** How often each child's CPU time is read, ms (a child that exits loses at most this much). */
const CPU_SAMPLE_INTERVAL_MS = 50;

/** Reads a live process's user + system CPU time in ms from /proc, or undefined once it is gone. */
function cpuMsOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "latin1");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** Keeps the last CPU reading of each child (polled, since an exited child's time is gone). */
function sampleCpu(children: readonly ChildProcess[]): { stop: () => number[] } {
  const last = children.map(() => Number.NaN);
  const read = () => children.forEach((child, index) => {
    const ms = cpuMsOf(child.pid);
    if (ms !== undefined) last[index] = ms;
  });
  read();
  const timer = setInterval(read, CPU_SAMPLE_INTERVAL_MS);
  return { stop: () => { read(); clearInterval(timer); return last; } };
}

const firstLine = (stream: NodeJS.ReadableStream, match: (line: string) => boolean = () => true) =>
  new Promise<string>((resolve) => {
    const lines = createInterface({ input: stream });
    lines.on("line", (line) => {
      if (match(line)) {
        lines.close();
        resolve(line);
      }
    });
  });

/** Optional second build root (with bin/run.js, dist/) run as a third pipe, for before/after. */
const BASELINE_ROOT = process.env.BENCH_E2E_BASELINE;
/** Extra node flags for the sds processes, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` (then they are stopped with SIGTERM). */
const SDS_NODE_FLAGS = (process.env.BENCH_E2E_NODE_FLAGS ?? "").split(" ").filter((flag) => flag.length > 0);

/** "baseline" is the sds pipe of BENCH_E2E_BASELINE. */
type Pipe = Kind | "baseline";

function node(args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  return spawn(process.execPath, args, { cwd: root, env, stdio: ["pipe", "pipe", "pipe"] });
}

function moduleScript(source: string, ...args: string[]): string[] {
  return ["--input-type=module", "-e", source, ...args];
}

const exited = (child: ChildProcess, ms: number) =>
  new Promise<boolean>((resolve) => {
    if (child.exitCode !== null) return resolve(true);
    const timer = setTimeout(() => resolve(false), ms);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });

/** One pass of `count` lines through a fresh pipe of the given kind; `rate` 0 = unpaced. */
async function pass(pipe: Pipe, count: number, rate: number): Promise<Outcome> {
  const kind: Kind = pipe === "bare" ? "bare" : "sds";
  const sds = (...args: string[]) => (pipe === "baseline" ? [`${BASELINE_ROOT}/bin/run.js`, ...args] : [...SDS_NODE_FLAGS, bin, ...args]);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sds-bench-e2e-"));
  const env = { ...process.env, SDS_DATA_DIR: dataDir, NO_COLOR: "1" };
  const children: ChildProcess[] = [];
  try {
    const server = node(kind === "sds" ? sds("relay", "--port", "0", "--rate-limit", "0", "-q") : moduleScript(BARE_SERVER), env);
    children.push(server);
    const url = await firstLine(server.stdout!);
    const receiver = node(kind === "sds" ? sds("listen", CHANNEL, "--relay", url, "--as", "bob", "--count", String(count), "--json") : moduleScript(BARE_RECEIVER, url, String(count)), env);
    children.push(receiver);
    await firstLine(receiver.stderr!, (line) => (kind === "sds" ? line.startsWith("listening on") : line === "ready"));
    const sender = node(kind === "sds" ? sds("send", CHANNEL, "--relay", url, "--as", "alice") : moduleScript(BARE_SENDER, url), env);
    children.push(sender);
    await firstLine(sender.stderr!, (line) => (kind === "sds" ? line.startsWith("sending on") : line === "ready"));
    sender.stderr!.resume();
    receiver.stderr!.resume();
    const before = [server, sender, receiver].map((child) => cpuMsOf(child.pid) ?? Number.NaN);
    const cpu = sampleCpu([server, sender, receiver]);

    const sentAt = new Float64Array(count);
    const latencies: number[] = [];
    let lastReceipt = 0;
    const received = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        process.stderr.write(`e2e ${pipe}: only ${latencies.length}/${count} lines after ${DEADLINE_MS} ms\n`);
        resolve();
      }, DEADLINE_MS);
      const lines = createInterface({ input: receiver.stdout! });
      lines.on("line", (line) => {
        const now = performance.now();
        const text = kind === "sds" ? (JSON.parse(line) as { payload: string }).payload : line;
        const index = Number(text.slice(0, text.indexOf(" ")));
        latencies.push(now - sentAt[index]!);
        lastReceipt = now;
        if (latencies.length === count) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const start = performance.now();
    const filler = "x".repeat(40);
    for (let index = 0; index < count; index++) {
      if (rate > 0) {
        const due = start + (index * 1000) / rate;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      }
      sentAt[index] = performance.now();
      if (!sender.stdin!.write(`${index} ${filler}\n`)) await new Promise((resolve) => sender.stdin!.once("drain", resolve));
    }
    sender.stdin!.end();
    await received;
    const senderExitedByItself = await exited(sender, 15_000);
    await exited(receiver, 5_000);
    const spent = cpu.stop().map((ms, index) => ((ms - before[index]!) * 1000) / count);
    if (latencies.length === 0) latencies.push(Number.NaN);
    return {
      cpuMsPerThousand: { server: spent[0]!, sender: spent[1]!, receiver: spent[2]! },
      received: latencies.length, complete: latencies.length === count,
      messagesPerSecond: latencies.length / ((lastReceipt - start) / 1000),
      p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), maxMs: percentile(latencies, 100), senderExitedByItself,
    };
  } finally {
    // With node flags (a CPU profile), a graceful stop lets the processes write their profiles.
    const signal = SDS_NODE_FLAGS.length > 0 && pipe === "sds" ? "SIGTERM" : "SIGKILL";
    for (const child of children) if (child.exitCode === null) child.kill(signal);
    if (signal === "SIGTERM") await Promise.all(children.map((child) => exited(child, 5_000)));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

const results: Record<string, Outcome> = {};
for (const pipe of BASELINE_ROOT === undefined ? (["bare", "sds"] as const) : (["bare", "baseline", "sds"] as const)) {
  results[`${pipe}Throughput`] = await pass(pipe, MESSAGES, 0);
  results[`${pipe}Paced`] = await pass(pipe, PACED_MESSAGES, PACED_RATE);
}
const row = (name: string, outcome: Outcome) => ({
  pipe: name, "msgs/s": outcome.messagesPerSecond, "p50 ms": outcome.p50Ms, "p99 ms": outcome.p99Ms, "max ms": outcome.maxMs,
  received: outcome.received, "sender exited": outcome.senderExitedByItself ? "yes" : "no (killed)",
  "cpu ms/1k send": outcome.cpuMsPerThousand.sender, "relay": outcome.cpuMsPerThousand.server, "listen": outcome.cpuMsPerThousand.receiver,
});
printTable(`end to end, ${MESSAGES} lines as fast as possible`, [
  row("bare ws pipe", results.bareThroughput!), ...(BASELINE_ROOT === undefined ? [] : [row("baseline sds pipe", results.baselineThroughput!)]), row("sds send | relay | listen", results.sdsThroughput!),
]);
printTable(`end to end, ${PACED_MESSAGES} lines paced at ${PACED_RATE}/s`, [
  row("bare ws pipe", results.barePaced!), ...(BASELINE_ROOT === undefined ? [] : [row("baseline sds pipe", results.baselinePaced!)]), row("sds send | relay | listen", results.sdsPaced!),
]);
const figure = (outcome: Outcome) => ({ ...outcome, complete: outcome.complete ? 1 : 0, senderExitedByItself: outcome.senderExitedByItself ? 1 : 0 });
emitFigures("e2e", {
  messages: MESSAGES,
  pacedMessages: PACED_MESSAGES,
  pacedRate: PACED_RATE,
  bare: { throughput: figure(results.bareThroughput!), paced: figure(results.barePaced!) },
  sds: { throughput: figure(results.sdsThroughput!), paced: figure(results.sdsPaced!) },
  /** How many times slower than the bare pipe (target ≤ 3). */
  throughputSlowdown: results.bareThroughput!.messagesPerSecond / results.sdsThroughput!.messagesPerSecond,
  pacedP50Slowdown: results.sdsPaced!.p50Ms / results.barePaced!.p50Ms,
  pacedP99Slowdown: results.sdsPaced!.p99Ms / results.barePaced!.p99Ms,
});
process.exit(0);
