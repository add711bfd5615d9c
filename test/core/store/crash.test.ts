/**
 * A real kill -9 harness: a child process commits operations in a loop and prints each
 * confirmed operation number; the parent SIGKILLs it at a random moment, reopens the file
 * and checks: integrity ok, no confirmed operation lost, the restored state is exactly the
 * state after the last confirmed operation or the one after it. Repeated ≥ 200 times.
 * SDS_SEED replays the kill schedule; SDS_CRASH_KILLS changes the count.
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { ChannelData } from "../../../src/core/store/contract.js";
import { seededRandom } from "../../../src/core/store/faulty.js";
import { inspectDatabase } from "../../../src/core/store/inspect.js";
import { SqlitePersistence } from "../../../src/core/store/sqlite.js";
import { cleanTemp, must, tempDb } from "./helpers.js";

afterAll(cleanTemp);

const KILLS = Number(process.env.SDS_CRASH_KILLS ?? 200);
const PARALLEL = 6;
const seed = Number(process.env.SDS_SEED ?? Date.now() % 1_000_000);
const CHILD = path.resolve("test/core/store/crash-child.mjs");
const DIST = path.resolve("dist/core/store/sqlite.js");
const SRC = path.resolve("src/core/store/sqlite.ts");
/**
 * Compiled JS starts ~4x faster than tsx; use it when the build is at least as new as the
 * store source and actually imports (the shared dist may be mid-rebuild), else tsx.
 */
const useDist =
  fs.existsSync(DIST) &&
  fs.statSync(DIST).mtimeMs >= fs.statSync(SRC).mtimeMs &&
  spawnSync(process.execPath, ["--input-type=module", "-e", `await import(${JSON.stringify(`file://${DIST}`)})`], { encoding: "utf8" }).status === 0;

interface Life {
  lastConfirmed: number;
  readyAt: number;
  stderr: string;
}

/** Runs one child life on `file` and kills it `delayMs` after it is ready (after `afterOps` ops). */
function life(file: string, synchronous: string, afterOps: number, delayMs: number): Promise<Life> {
  return new Promise((resolve, reject) => {
    const args = useDist ? [CHILD, `file://${DIST}`, file, synchronous] : ["--import", "tsx", CHILD, SRC, file, synchronous];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let stderr = "";
    let readyAt = -1;
    let scheduled = false;
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      out += chunk;
      if (readyAt < 0) {
        const match = /^ready (\d+)\n/.exec(out);
        if (match) readyAt = Number(match[1]);
      }
      if (!scheduled && readyAt >= 0) {
        const confirmed = out.split("\n").filter((line) => /^\d+$/.test(line)).length;
        if (confirmed >= afterOps) {
          scheduled = true;
          setTimeout(() => child.kill("SIGKILL"), delayMs);
        }
      }
    });
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", () => {
      const numbers = out.split("\n").filter((line) => /^\d+$/.test(line)).map(Number);
      resolve({ lastConfirmed: numbers.length > 0 ? (numbers[numbers.length - 1] as number) : readyAt, readyAt, stderr });
    });
  });
}

/** The exact state after operation `n` of the child's workload. */
function expectState(data: ChannelData | undefined, n: number): void {
  const range = (from: number, to: number, prefix: string) => Array.from({ length: Math.max(0, to - Math.max(1, from) + 1) }, (_, i) => `${prefix}${Math.max(1, from) + i}`);
  if (n === 0) {
    expect(data).toBeUndefined();
    return;
  }
  expect(data?.meta.lamportTimestamp).toBe(BigInt(n));
  expect(data?.history.map((m) => m.messageId)).toEqual(range(n - 19, n, "m"));
  expect(data?.meta.outgoingBuffer.map((e) => [e.message.messageId, e.resendAttempts])).toEqual(range(n - 4, n, "m").map((id) => [id, id === `m${n}` ? 0 : 1]));
  expect(data?.meta.incomingBuffer.map((e) => e.message.messageId)).toEqual(range(n - 2, n, "w"));
  expect(data?.meta.outgoingRepairBuffer.map((e) => e.entry.messageId)).toEqual(range(n - 1, n, "r"));
  expect(data?.meta.incomingRepairBuffer.map((e) => e.entry.messageId)).toEqual(range(n - 1, n, "q"));
  expect([...(data?.retrievalHints?.keys() ?? [])].sort()).toEqual(range(n - 19, n, "m").sort());
}

async function worker(index: number, lives: number, random: () => number, synchronous: string, tally: { kills: number; ops: number; nextOps: number }): Promise<void> {
  const file = tempDb(`crash-${index}.db`);
  let confirmedBefore = 0;
  for (let i = 0; i < lives; i++) {
    const run = await life(file, synchronous, 1 + Math.floor(random() * 8), Math.floor(random() * 12));
    expect(run.stderr).toBe("");
    expect(run.readyAt, "restart resumed from the last committed operation").toBeGreaterThanOrEqual(confirmedBefore);
    tally.kills += 1;
    const store = must(SqlitePersistence.open(file));
    expect(store.db.pragma("quick_check", { simple: true })).toBe("ok");
    const data = must(store.loadChannelSync("crash"));
    const restored = Number(data?.meta.lamportTimestamp ?? 0n);
    expect([run.lastConfirmed, run.lastConfirmed + 1], `life ${i}: confirmed ${run.lastConfirmed}, restored ${restored}`).toContain(restored);
    if (restored === run.lastConfirmed + 1) tally.nextOps += 1;
    expectState(data, restored);
    tally.ops += restored - confirmedBefore;
    confirmedBefore = restored;
    store.closeSync();
    if (i % 25 === 24) expect(inspectDatabase(file, { full: true }).ok).toBe(true);
  }
}

describe("kill -9 crash harness", () => {
  it(`survives ${KILLS} SIGKILLs at random moments with no confirmed operation lost (seed ${seed})`, async () => {
    console.log(`crash harness: seed=${seed} kills=${KILLS} child=${useDist ? "dist (plain node)" : "tsx"}`);
    const random = seededRandom(seed);
    const tally = { kills: 0, ops: 0, nextOps: 0 };
    const started = Date.now();
    const per = Math.ceil(KILLS / PARALLEL);
    await Promise.all(Array.from({ length: PARALLEL }, (_, index) => worker(index, per, seededRandom(Math.floor(random() * 2 ** 31)), index % 2 === 0 ? "FULL" : "NORMAL", tally)));
    console.log(`crash harness: ${tally.kills} kills, ${tally.ops} ops committed, ${tally.nextOps} restarts found the unconfirmed next op, ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(tally.kills).toBeGreaterThanOrEqual(KILLS);
  }, 180_000);
});
