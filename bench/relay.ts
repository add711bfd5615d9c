/**
 * Relay fan-out and memory: `sds relay` (framing, envelope decode, hash, store, limits, acks)
 * against a bare `ws` broadcast loop (every binary message re-sent to every other client, nothing
 * else) — the floor any WebSocket relay in Node pays. Each server runs in its own process; one
 * publisher and 1/10/50 subscribers run here. Both servers stay up for one subscriber count: each
 * gets a warm-up batch, then `BENCH_RELAY_ROUNDS` timed rounds alternate which goes first, and the
 * ratio is the median of the rounds' ratios (each of two runs next to each other in time). Every
 * message is distinct (no store duplicates). Figures: deliveries/s, the ratio to the floor, server
 * CPU µs per delivery (from /proc; the steadiest figure on a shared machine), and resident memory
 * per idle connection. Run: `npm run build && node --import tsx bench/relay.ts`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { WebSocket } from "ws";
import { encodeEnvelope } from "../src/core/relay/envelope.js";
import { decodeFrame } from "../src/core/relay/frame-decode.js";
import { encodeFrame, RelayFeature } from "../src/core/relay/protocol.js";
import { emitFigures, formatNumber, median, printTable } from "./lib.js";

const bin = fileURLToPath(new URL("../bin/run.js", import.meta.url));
const root = fileURLToPath(new URL("..", import.meta.url));
const TOPIC = "/sds/1/bench/proto";
const PAYLOAD_BYTES = 200;
const DELIVERIES_PER_CASE = Number(process.env.BENCH_DELIVERIES ?? 50_000);
const IDLE_CONNECTIONS = Number(process.env.BENCH_IDLE_CONNECTIONS ?? 1_000);
/** Timed rounds per subscriber count; each round runs every server once, alternating which goes first. */
const ROUNDS = Math.max(1, Number(process.env.BENCH_RELAY_ROUNDS ?? 3));
/** Untimed deliveries to each server before the rounds (JIT warm-up; the store fills up). */
const WARM_UP_DELIVERIES = Number(process.env.BENCH_RELAY_WARM_UP ?? 20_000);
const SUBSCRIBER_COUNTS = (process.env.BENCH_RELAY_SUBSCRIBERS ?? "1,10,50").split(",").map(Number);
/** Optional second checkout/build root (with bin/run.js, dist/) measured in the same run, for before/after. */
const BASELINE_ROOT = process.env.BENCH_RELAY_BASELINE;
/** `BENCH_RELAY_ACK_BATCHES=0`: the publisher does not turn on ack batches (as a client written before them). */
const ACK_BATCHES = process.env.BENCH_RELAY_ACK_BATCHES !== "0";
/** Extra node flags for the sds relay process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` (then it is stopped with SIGTERM). */
const RELAY_NODE_FLAGS = (process.env.BENCH_RELAY_NODE_FLAGS ?? "").split(" ").filter((flag) => flag.length > 0);

const BARE = `import { WebSocketServer } from "ws";
const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
wss.on("listening", () => console.log("ws://127.0.0.1:" + wss.address().port));
wss.on("connection", (ws) => ws.on("message", (data, isBinary) => {
  for (const other of wss.clients) if (other !== ws && other.readyState === 1) other.send(data, { binary: isBinary });
}));`;

/** "baseline" is `sds relay` from BENCH_RELAY_BASELINE; it speaks the same protocol as "sds". */
type Kind = "sds" | "bare" | "baseline";

async function startServer(kind: Kind): Promise<{ child: ChildProcess; url: string }> {
  // The publisher writes the whole batch at once and the bare loop buffers without a bound, so
  // the relay's slow-consumer bound is raised here: on a loaded machine this process can fall
  // behind by more than the default 8 MiB, and the relay would rightly cut its subscribers off.
  const relayArgs = ["relay", "--port", "0", "--rate-limit", "0", "-q", "--max-connections", "5000", "--send-queue-bytes", String(512 * 1024 * 1024)];
  const child =
    kind === "bare"
      ? spawn(process.execPath, ["--input-type=module", "-e", BARE], { cwd: root, stdio: ["ignore", "pipe", "inherit"] })
      : kind === "sds"
        ? spawn(process.execPath, [...RELAY_NODE_FLAGS, bin, ...relayArgs], { stdio: ["ignore", "pipe", "inherit"] })
        : spawn(process.execPath, [`${BASELINE_ROOT}/bin/run.js`, ...relayArgs], { stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once("line", resolve));
  return { child, url };
}

function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) * 1024 : NaN;
}

/** The first message of each socket (an sds relay's WELCOME), caught from the start. */
const firstMessages = new WeakMap<WebSocket, Promise<Buffer>>();

async function open(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  firstMessages.set(ws, new Promise<Buffer>((resolve) => ws.once("message", resolve)));
  await new Promise<void>((resolve, reject) => ws.once("open", () => resolve()).once("error", reject));
  return ws;
}

/**
 * Messages of one case: sds PUBLISH frames, or the same envelope bytes raw for the bare loop.
 * `firstIndex` numbers them (payload and timestamp) so that every message a server sees over
 * all rounds is distinct: a repeat would be a duplicate to the relay's store, which is cheaper.
 */
function messages(kind: Kind, count: number, firstIndex: number): Uint8Array[] {
  const filler = "x".repeat(PAYLOAD_BYTES - 12);
  return Array.from({ length: count }, (_, offset) => {
    const index = firstIndex + offset;
    const envelope = encodeEnvelope({ payload: new TextEncoder().encode(`${String(index).padStart(11, "0")} ${filler}`), contentTopic: TOPIC, timestampNs: BigInt(index) });
    return kind !== "bare" ? encodeFrame({ type: "publish", requestId: index + 1, envelope }) : envelope;
  });
}

/** CPU seconds (user, system) a process has used so far, from /proc. */
function cpuSeconds(pid: number): { user: number; system: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
}

interface CaseResult {
  perSecond: number;
  /** Server CPU µs (user + system) per delivery, and its system part. */
  serverCpuUs: number;
  serverSystemUs: number;
  /** Benchmark-process (publisher + subscribers) CPU µs per delivery. */
  clientCpuUs: number;
}

/** A server under test, kept running over the warm-up and every round of one subscriber count. */
interface Running {
  kind: Kind;
  child: ChildProcess;
  url: string;
  /** Messages published to it so far (the next message's index). */
  published: number;
}

async function fanOut(server: Running, subscriberCount: number, count: number): Promise<CaseResult> {
  const { kind, url } = server;
  const serverPid = server.child.pid!;
  const subscribers = await Promise.all(Array.from({ length: subscriberCount }, () => open(url)));
  const publisher = await open(url);
  if (kind !== "bare") {
    // Like RelayClient: turn on ack batches when the relay's WELCOME offers them (the baseline
    // build may not; then its acks stay one frame each).
    const welcome = decodeFrame(new Uint8Array(await firstMessages.get(publisher)!));
    if (ACK_BATCHES && welcome.type === "welcome" && (welcome.features & RelayFeature.AckBatches) !== 0) publisher.send(encodeFrame({ type: "hello", features: RelayFeature.AckBatches }));
  }
  if (kind !== "bare") {
    for (const ws of subscribers) ws.send(encodeFrame({ type: "subscribe", topics: [TOPIC] }));
    // A ping round trip on each proves the subscription is in force.
    // The listener is removed again: it decodes whole frames, which the timed part must not do
    // (the bare loop's subscribers decode nothing either).
    await Promise.all(subscribers.map((ws) => new Promise<void>((resolve) => {
      const onPong = (data: Buffer) => {
        if (decodeFrame(new Uint8Array(data)).type !== "pong") return;
        ws.off("message", onPong);
        resolve();
      };
      ws.on("message", onPong);
      ws.send(encodeFrame({ type: "ping", nonce: 1 }));
    })));
  }
  const batch = messages(kind, count, server.published);
  server.published += count;
  let received = 0;
  const expected = count * subscriberCount;
  const done = new Promise<void>((resolve, reject) => {
    for (const ws of subscribers) {
      ws.once("close", (code) => reject(new Error(`${kind}: a subscriber was closed (${code}) after ${received} of ${expected} deliveries`)));
      ws.on("message", (data: Buffer) => {
        if (kind !== "bare" && data[1] !== 0x81) return;
        received += 1;
        if (received === expected) resolve();
      });
    }
  });
  const serverCpuBefore = cpuSeconds(serverPid);
  const clientCpuBefore = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (const bytes of batch) publisher.send(bytes);
  await done;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const serverCpuAfter = cpuSeconds(serverPid);
  const clientCpu = process.cpuUsage(clientCpuBefore);
  for (const ws of [...subscribers, publisher]) ws.terminate();
  const serverUser = serverCpuAfter.user - serverCpuBefore.user;
  const serverSystem = serverCpuAfter.system - serverCpuBefore.system;
  return { perSecond: expected / seconds, serverCpuUs: ((serverUser + serverSystem) * 1e6) / expected, serverSystemUs: (serverSystem * 1e6) / expected, clientCpuUs: (clientCpu.user + clientCpu.system) / expected };
}

async function memoryPerConnection(kind: Kind): Promise<number> {
  const { child, url } = await startServer(kind);
  // A warm-up round of connections first, so start-up garbage and lazily loaded code are not
  // counted (without it the first measurement can come out negative).
  const warmUp = [];
  for (let index = 0; index < 50; index++) warmUp.push(await open(url));
  for (const ws of warmUp) ws.terminate();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const before = rssBytes(child.pid!);
  const sockets = [];
  for (let index = 0; index < IDLE_CONNECTIONS; index++) sockets.push(await open(url));
  await new Promise((resolve) => setTimeout(resolve, 300));
  const after = rssBytes(child.pid!);
  for (const ws of sockets) ws.terminate();
  child.kill("SIGKILL");
  return (after - before) / IDLE_CONNECTIONS;
}

async function stop(kind: Kind, child: ChildProcess): Promise<void> {
  if (kind !== "sds" || RELAY_NODE_FLAGS.length === 0) return void child.kill("SIGKILL");
  // A graceful stop, so --cpu-prof can write its profile.
  await new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

/** Runs each kind `ROUNDS` times after a warm-up, alternating which goes first. */
async function measure(subscriberCount: number): Promise<Record<Kind, CaseResult[]>> {
  const servers: Running[] = [];
  for (const kind of kinds) servers.push({ kind, ...(await startServer(kind)), published: 0 });
  const count = Math.max(100, Math.floor(DELIVERIES_PER_CASE / subscriberCount));
  // The warm-up lets both servers' JIT settle (a relay serves for hours): what follows compares
  // steady states, not how much code each has to compile first.
  for (const server of servers) await fanOut(server, subscriberCount, Math.max(100, Math.floor(WARM_UP_DELIVERIES / subscriberCount)));
  const results: Record<Kind, CaseResult[]> = { sds: [], bare: [], baseline: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? servers : [...servers].reverse();
    for (const server of order) results[server.kind].push(await fanOut(server, subscriberCount, count));
  }
  for (const server of servers) await stop(server.kind, server.child);
  return results;
}

/** Median over rounds of one figure. */
function medianOf(results: CaseResult[], figure: (result: CaseResult) => number): number {
  return median(results.map(figure));
}

const rows = [];
const figures: Record<string, number> = {};
const kinds: Kind[] = BASELINE_ROOT === undefined ? ["bare", "sds"] : ["bare", "baseline", "sds"];
for (const subscriberCount of SUBSCRIBER_COUNTS) {
  const results = await measure(subscriberCount);
  // Each round's ratio is of two runs next to each other in time: their median is steadier than
  // a ratio of medians when the machine's load changes between rounds.
  const ratios = results.sds.map((result, round) => result.perSecond / results.bare[round]!.perSecond);
  const baselineRatios = results.baseline.map((result, round) => result.perSecond / results.bare[round]!.perSecond);
  const perSecond = (kind: Kind) => medianOf(results[kind], (result) => result.perSecond);
  const serverUs = (kind: Kind) => medianOf(results[kind], (result) => result.serverCpuUs);
  const row: Record<string, number | string> = { subscribers: subscriberCount, "sds deliveries/s": perSecond("sds"), "bare ws deliveries/s": perSecond("bare"), "sds/bare": median(ratios), "range": `${formatNumber(Math.min(...ratios))}–${formatNumber(Math.max(...ratios))}` };
  if (BASELINE_ROOT !== undefined) row["baseline/bare"] = median(baselineRatios);
  row["sds server µs/dlv"] = serverUs("sds");
  if (BASELINE_ROOT !== undefined) row["baseline server µs/dlv"] = serverUs("baseline");
  row["bare server µs/dlv"] = serverUs("bare");
  row["sds sys µs/dlv"] = medianOf(results.sds, (result) => result.serverSystemUs);
  row["bare sys µs/dlv"] = medianOf(results.bare, (result) => result.serverSystemUs);
  row["sds client µs/dlv"] = medianOf(results.sds, (result) => result.clientCpuUs);
  row["bare client µs/dlv"] = medianOf(results.bare, (result) => result.clientCpuUs);
  rows.push(row);
  figures[`fanout${subscriberCount}.sdsPerSecond`] = perSecond("sds");
  figures[`fanout${subscriberCount}.barePerSecond`] = perSecond("bare");
  figures[`fanout${subscriberCount}.ratio`] = median(ratios);
  figures[`fanout${subscriberCount}.sdsServerCpuUs`] = serverUs("sds");
  figures[`fanout${subscriberCount}.bareServerCpuUs`] = serverUs("bare");
  if (BASELINE_ROOT !== undefined) {
    figures[`fanout${subscriberCount}.baselineRatio`] = median(baselineRatios);
    figures[`fanout${subscriberCount}.baselineServerCpuUs`] = serverUs("baseline");
  }
}
printTable(`relay fan-out, ${PAYLOAD_BYTES}-byte payloads, ~${DELIVERIES_PER_CASE} deliveries per run, median of ${ROUNDS} alternating rounds after ~${WARM_UP_DELIVERIES} warm-up deliveries`, rows);
if (process.env.BENCH_RELAY_SKIP_MEMORY === "1") {
  emitFigures("relay", figures);
  process.exit(0);
}
const memory = { sds: await memoryPerConnection("sds"), bare: await memoryPerConnection("bare"), baseline: BASELINE_ROOT === undefined ? NaN : await memoryPerConnection("baseline") };
printTable(`resident memory per idle connection (${IDLE_CONNECTIONS} connections)`, [
  { server: "sds relay", "bytes/connection": memory.sds, ratio: memory.sds / memory.bare },
  ...(BASELINE_ROOT === undefined ? [] : [{ server: "baseline sds relay", "bytes/connection": memory.baseline, ratio: memory.baseline / memory.bare }]),
  { server: "bare ws", "bytes/connection": memory.bare, ratio: 1 },
]);
figures.sdsBytesPerConnection = memory.sds;
figures.bareBytesPerConnection = memory.bare;
emitFigures("relay", figures);
process.exit(0);
