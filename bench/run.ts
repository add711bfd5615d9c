/**
 * `npm run bench [-- NAME ... [--merge]] [--repeats N]`: runs every benchmark script in bench/ (or the
 * named ones) N times, each in a fresh process, keeps min/median/max of every numeric figure,
 * writes bench/results.json (machine, versions, figures) and prints a summary table. Named
 * benchmarks alone go to bench/results.partial.json, or with `--merge` replace their own figures
 * in bench/results.json (each benchmark's time is kept in `measuredAt`).
 *
 * Each benchmark runs 3 times unless `--repeats` says otherwise, except `engine`, which runs once
 * by default: it runs @waku/sds to completion at 5,000 messages (4–10 minutes) and already
 * repeats our side inside the run.
 *
 * Benchmarks are not tests: a slow or noisy machine changes the numbers, never the exit code,
 * except when a script itself crashes.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { formatNumber, median, printTable } from "./lib.js";

const benchDir = fileURLToPath(new URL(".", import.meta.url));
const rootDir = fileURLToPath(new URL("..", import.meta.url));
const NOT_BENCHMARKS = new Set(["run.ts", "lib.ts", "report.ts"]);

interface Options { names: string[]; repeats: number | undefined; merge: boolean }

/** Runs per benchmark when `--repeats` is not given. */
const REPEATS_DEFAULT = 3;
/** Benchmarks too long to repeat by default (see the header). */
const REPEATS_DEFAULT_BY_BENCHMARK: Record<string, number> = { engine: 1 };

function parseOptions(argv: string[]): Options {
  const names: string[] = [];
  let repeats: number | undefined;
  let merge = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--repeats") repeats = Math.max(1, Number(argv[++i]));
    else if (arg === "--merge") merge = true;
    else names.push(arg.replace(/\.ts$/, ""));
  }
  return { names, repeats, merge };
}

/** Flattens nested numeric leaves into dotted names: {a:{b:1}} → {"a.b": 1}. */
function flatten(value: unknown, prefix: string, into: Map<string, number>): void {
  if (typeof value === "number" && Number.isFinite(value)) into.set(prefix, value);
  else if (value !== null && typeof value === "object") {
    for (const [key, child] of Object.entries(value)) flatten(child, prefix ? `${prefix}.${key}` : key, into);
  }
}

function runOnce(script: string): Map<string, number> {
  const result = spawnSync(process.execPath, ["--import", "tsx", `bench/${script}.ts`], {
    cwd: rootDir, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 64 * 1024 * 1024,
  });
  process.stdout.write(result.stdout.split("\n").slice(0, -2).join("\n") + "\n");
  if (result.status !== 0) throw new Error(`bench/${script}.ts exited ${result.status}`);
  const lines = result.stdout.trim().split("\n");
  const figures = new Map<string, number>();
  flatten(JSON.parse(lines[lines.length - 1]!).figures, "", figures);
  return figures;
}

function packageVersion(name: string): string {
  try {
    const file = name === "." ? `${rootDir}/package.json` : `${rootDir}/node_modules/${name}/package.json`;
    return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
  } catch {
    return "not installed";
  }
}

const options = parseOptions(process.argv.slice(2));
const available = readdirSync(benchDir).filter((f) => f.endsWith(".ts") && !NOT_BENCHMARKS.has(f)).map((f) => f.slice(0, -3)).sort();
const selected = options.names.length > 0 ? options.names : available;
const unknown = selected.filter((n) => !available.includes(n));
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark(s): ${unknown.join(", ")}; available: ${available.join(", ")}\n`);
  process.exit(2);
}

type Figures = Record<string, { min: number; median: number; max: number; runs: number[] }>;
const results: Record<string, Figures> = {};
// When each benchmark was last measured: `--merge` re-measures some and keeps the others' figures.
const measuredAt: Record<string, string> = {};
const failures: string[] = [];
for (const script of selected) {
  const runs: Array<Map<string, number>> = [];
  const repeats = options.repeats ?? REPEATS_DEFAULT_BY_BENCHMARK[script] ?? REPEATS_DEFAULT;
  for (let r = 0; r < repeats; r++) {
    process.stderr.write(`bench ${script}: run ${r + 1}/${repeats}\n`);
    try {
      runs.push(runOnce(script));
    } catch (error) {
      failures.push(`${script}: ${(error as Error).message}`);
      break;
    }
  }
  if (runs.length === 0) continue;
  results[script] = {};
  measuredAt[script] = new Date().toISOString();
  for (const name of runs[0]!.keys()) {
    const values = runs.map((m) => m.get(name)).filter((v): v is number => v !== undefined);
    results[script]![name] = { min: Math.min(...values), median: median(values), max: Math.max(...values), runs: values };
  }
}

if (options.merge) {
  // Keep the figures of benchmarks not re-measured in this run.
  const previous = JSON.parse(readFileSync(`${rootDir}/bench/results.json`, "utf8")) as { generatedAt: string; results: Record<string, Figures>; measuredAt?: Record<string, string> };
  for (const [bench, figures] of Object.entries(previous.results)) {
    if (results[bench] !== undefined) continue;
    results[bench] = figures;
    measuredAt[bench] = previous.measuredAt?.[bench] ?? previous.generatedAt;
  }
}

const cpus = os.cpus();
const document = {
  generatedAt: new Date().toISOString(),
  repeats: options.repeats ?? REPEATS_DEFAULT,
  repeatsByBenchmark: Object.fromEntries(Object.entries(results).map(([bench, figures]) => [bench, Object.values(figures)[0]?.runs.length ?? 0])),
  machine: { platform: `${os.platform()} ${os.release()}`, arch: os.arch(), cpus: cpus.length, cpuModel: cpus[0]?.model ?? "unknown", memoryGiB: Math.round(os.totalmem() / 2 ** 30) },
  versions: {
    node: process.versions.node,
    "sds-toolkit": packageVersion("."),
    "@waku/sds": packageVersion("@waku/sds"),
    "better-sqlite3": packageVersion("better-sqlite3"),
    ws: packageVersion("ws"),
  },
  measuredAt,
  results,
  failures,
};
const outFile = options.names.length > 0 && !options.merge ? "bench/results.partial.json" : "bench/results.json";
writeFileSync(`${rootDir}/${outFile}`, `${JSON.stringify(document, null, 2)}\n`);
const rows = Object.entries(results).flatMap(([bench, figures]) =>
  Object.entries(figures).map(([name, f]) => ({ bench, figure: name, min: formatNumber(f.min), median: formatNumber(f.median), max: formatNumber(f.max) })),
);
printTable(`summary over ${options.repeats ?? REPEATS_DEFAULT} run(s) (engine ${options.repeats ?? REPEATS_DEFAULT_BY_BENCHMARK.engine}) → ${outFile}`, rows);
if (failures.length > 0) {
  process.stderr.write(`\nfailed: ${failures.join("; ")}\n`);
  process.exit(1);
}
