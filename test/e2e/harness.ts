/**
 * Helpers for end-to-end tests that run the BUILT CLI (`node bin/run.js`, after `npx tsc -b`)
 * as real processes talking over real loopback sockets: spawn with pipes, collect stdout lines
 * and stderr, wait for a line or for exit, and clean up every child a test started.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Absolute path of the CLI entry point. */
export const BIN = resolve(dirname(fileURLToPath(import.meta.url)), "../../bin/run.js");

/** A spawned `sds` process with its output collected. */
export interface SdsProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Complete stdout lines so far. */
  lines: () => string[];
  /** Resolves with the exit status (signals as 128+n). */
  exited: Promise<number>;
  /** Resolves once `predicate(lines)` holds; rejects after `timeoutMs` or on exit without it. */
  waitFor: (predicate: (lines: string[], stderr: string) => boolean, timeoutMs?: number) => Promise<void>;
}

const started = new Set<ChildProcess>();

const SIGNAL_NUMBERS: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15, SIGPIPE: 13 };

/**
 * Spawns `node bin/run.js ...args` with a clean colour-free environment. With `stdoutFile`, the
 * child's stdout is that file opened for appending (as `>> FILE` would), and `stdout`/`lines`
 * read the file.
 */
export function sds(args: string[], options: { env?: NodeJS.ProcessEnv; input?: string | Buffer; stdin?: "pipe" | "ignore"; stdoutFile?: string } = {}): SdsProcess {
  const outputFd = options.stdoutFile === undefined ? undefined : openSync(options.stdoutFile, "a");
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0", ...options.env },
    stdio: [options.stdin ?? "pipe", outputFd ?? "pipe", "pipe"],
  });
  if (outputFd !== undefined) closeSync(outputFd);
  started.add(child);
  let piped = "";
  const file = options.stdoutFile;
  const readOut = () => (file === undefined ? piped : existsSync(file) ? readFileSync(file, "utf8") : "");
  let err = "";
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const waiter of [...waiters]) waiter();
  };
  child.stdout?.setEncoding("utf8").on("data", (text: string) => {
    piped += text;
    notify();
  });
  // A file gives no data events: look again every 100 ms while someone waits.
  const filePoll = file === undefined ? undefined : setInterval(() => waiters.size > 0 && notify(), 100);
  child.stderr?.setEncoding("utf8").on("data", (text: string) => {
    err += text;
    notify();
  });
  let done = false;
  const exited = new Promise<number>((resolveExit) => {
    child.on("close", (code, signal) => {
      done = true;
      if (filePoll !== undefined) clearInterval(filePoll);
      started.delete(child);
      notify();
      resolveExit(code ?? 128 + (SIGNAL_NUMBERS[signal ?? ""] ?? 0));
    });
  });
  if (options.input !== undefined) child.stdin?.end(options.input);
  const lines = () => readOut().split("\n").slice(0, -1);
  const waitFor = (predicate: (lines: string[], stderr: string) => boolean, timeoutMs = 30_000) =>
    new Promise<void>((resolveWait, rejectWait) => {
      const check = () => {
        if (predicate(lines(), err)) {
          finish();
          resolveWait();
        } else if (done) {
          finish();
          rejectWait(new Error(`process exited before the condition held\nargs: ${args.join(" ")}\nstdout tail: ${readOut().slice(-500)}\nstderr: ${err.slice(-2000)}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        rejectWait(new Error(`timed out after ${timeoutMs} ms\nargs: ${args.join(" ")}\nstdout lines: ${lines().length}\nstdout tail: ${readOut().slice(-500)}\nstderr: ${err.slice(-2000)}`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  return { child, stdout: readOut, stderr: () => err, lines, exited, waitFor };
}

/** Kills every process started by {@link sds} that is still running (call in afterEach/afterAll). */
export async function killAll(): Promise<void> {
  const children = [...started];
  for (const child of children) child.kill("SIGKILL");
  await Promise.all(children.map((child) => new Promise<void>((done) => (child.exitCode !== null || child.signalCode !== null ? done() : child.once("close", () => done())))));
}

/** A fresh temporary directory; removed by the returned cleanup. */
export function tempDir(prefix = "sds-e2e-"): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** A TCP port free on loopback right now. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** Runs the CLI to completion and returns status and output. */
export async function run(args: string[], options: { env?: NodeJS.ProcessEnv; input?: string | Buffer } = {}): Promise<{ status: number; stdout: string; stderr: string }> {
  const process_ = sds(args, { ...options, input: options.input ?? "" });
  const status = await process_.exited;
  return { status, stdout: process_.stdout(), stderr: process_.stderr() };
}

/** Starts `sds relay` on a free port and resolves once it printed its URL. */
export async function startRelay(extra: string[] = [], port?: number): Promise<{ process: SdsProcess; url: string; port: number }> {
  const chosen = port ?? (await freePort());
  const relay = sds(["relay", "--port", String(chosen), "--rate-limit", "0", ...extra], { stdin: "ignore" });
  await relay.waitFor((lines) => lines.some((line) => line.startsWith("ws://")), 15_000);
  return { process: relay, url: `ws://127.0.0.1:${chosen}`, port: chosen };
}

/** A parsed `listen --json` record. */
export interface MessageRecord {
  type: string;
  id: string;
  sender: string;
  lamport: string | null;
  dependencies: string[];
  payload?: string;
  payloadBase64?: string;
}

/** Parses NDJSON message records from stdout lines. */
export function records(lines: string[]): MessageRecord[] {
  return lines.filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as MessageRecord).filter((record) => record.type === "message");
}

/**
 * Checks one listener's stream: no duplicate ids, every dependency that is a known message was
 * delivered before, and each sender's payloads (`<tag> <n>`) arrive in increasing order.
 * Returns a list of problems (empty when all is well).
 */
export function causalProblems(stream: MessageRecord[]): string[] {
  const problems: string[] = [];
  const all = new Set(stream.map((record) => record.id));
  const seen = new Set<string>();
  const last = new Map<string, number>();
  for (const record of stream) {
    if (seen.has(record.id)) problems.push(`duplicate ${record.id}`);
    for (const dependency of record.dependencies) if (all.has(dependency) && !seen.has(dependency)) problems.push(`${record.payload} delivered before its dependency ${dependency}`);
    const match = /^(\S+) (\d+)$/.exec(record.payload ?? "");
    if (match) {
      const index = Number(match[2]);
      if (index <= (last.get(match[1] as string) ?? 0)) problems.push(`${record.payload} out of order`);
      last.set(match[1] as string, index);
    }
    seen.add(record.id);
  }
  return problems;
}

/** `count` lines `<tag> 1` … `<tag> count`. */
export function numberedLines(tag: string, count: number): string {
  return Array.from({ length: count }, (_, index) => `${tag} ${index + 1}\n`).join("");
}
