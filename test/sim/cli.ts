/**
 * `npm run sim -- …`: the simulator's command line.
 *
 *   --seeds N         run N seeds (from --base, default derived from `git rev-parse HEAD`)
 *   --seed S          replay one seed exactly; prints the first violated invariant and the
 *                     events around it, the trace hash and the counters
 *   --policy P        write-before-release (default) | best-effort
 *   --store K         memory (default) | sqlite | model (the simulator's reference store) |
 *                     mixed (every 10th seed on SQLite files)
 *   --scenario F      force a scenario (F0…F14, swarm; F13 soak and F14 @waku/sds differential only by name) instead of seed mod 14
 *   --once            skip the second run per seed (no D1 check)
 *   --no-regressions  do not prepend the regression list; --record appends new failures to it
 *   --report FILE     write the campaign summary as JSON (docs/reliability.md figures)
 *   --grep TEXT       with --seed: also print every event containing TEXT (a message id, a peer)
 *   --history H       with --seed: keep the history in `memory` or stream it to a `file`
 *                     (default: a file for seeds of 1,000 messages or more, i.e. F13)
 * Exit status: 0 all passed, 1 a seed failed or a blind spot was found, 2 usage.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { type SeedPlan, appendRegressions, readRegressions, runCampaign, runSeed } from "./campaign.js";
import { summarise } from "./report.js";
import { OPT_IN_SCENARIOS, SCENARIOS, type PolicyName, type ScenarioId, type StoreKind } from "./scenarios.js";

interface CliOptions {
  seeds?: number;
  seed?: number;
  base?: number;
  policy: PolicyName;
  store: StoreKind | "mixed";
  scenario?: ScenarioId;
  twice: boolean;
  regressions: boolean;
  record: boolean;
  report?: string;
  /** Replay: also print every event whose JSON contains this text (e.g. a message id). */
  grep?: string;
  /** Replay: stream the history to a file (`file`) or keep it in memory (`memory`); default by size. */
  history?: "file" | "memory";
}

function usage(message: string): never {
  process.stderr.write(`sim: ${message}\nusage: npm run sim -- (--seeds N | --seed S) [--policy write-before-release|best-effort] [--store memory|sqlite|model|mixed] [--scenario F0..F14|swarm] [--base B] [--once] [--no-regressions] [--record] [--report FILE]\n`);
  process.exit(2);
}

function integer(text: string | undefined, flag: string): number {
  const value = Number(text);
  if (text === undefined || !Number.isSafeInteger(value) || value < 0) usage(`${flag} needs a non-negative integer`);
  return value;
}

function parse(argv: readonly string[]): CliOptions {
  const options: CliOptions = { policy: "write-before-release", store: "memory", twice: true, regressions: true, record: false };
  for (let index = 0; index < argv.length; index += 1) {
    const flag = argv[index];
    const next = (): string | undefined => argv[++index];
    if (flag === "--seeds") options.seeds = integer(next(), flag);
    else if (flag === "--seed") options.seed = integer(next(), flag);
    else if (flag === "--base") options.base = integer(next(), flag);
    else if (flag === "--policy") {
      const value = next();
      if (value !== "write-before-release" && value !== "best-effort") usage("--policy is write-before-release or best-effort");
      options.policy = value;
    } else if (flag === "--store") {
      const value = next();
      if (value !== "memory" && value !== "sqlite" && value !== "model" && value !== "mixed") usage("--store is memory, sqlite, model or mixed");
      options.store = value;
    } else if (flag === "--scenario") {
      const value = next() as ScenarioId;
      if (![...SCENARIOS, ...OPT_IN_SCENARIOS].includes(value)) usage(`--scenario is one of ${[...SCENARIOS, ...OPT_IN_SCENARIOS].join(", ")}`);
      options.scenario = value;
    } else if (flag === "--once") options.twice = false;
    else if (flag === "--no-regressions") options.regressions = false;
    else if (flag === "--record") options.record = true;
    else if (flag === "--report") options.report = next();
    else if (flag === "--grep") options.grep = next();
    else if (flag === "--history") {
      const value = next();
      if (value !== "file" && value !== "memory") usage("--history is file or memory");
      options.history = value;
    }
    else usage(`unknown argument ${flag}`);
  }
  if ((options.seeds === undefined) === (options.seed === undefined)) usage("give exactly one of --seeds N or --seed S");
  return options;
}

/** TigerBeetle's trick: seeds derived from the commit, new every commit, reproducible from it. */
function baseFromGit(): number {
  try {
    const head = execFileSync("git", ["rev-parse", "HEAD"], { encoding: "utf8" }).trim();
    return Number.parseInt(head.slice(0, 7), 16);
  } catch {
    return 1;
  }
}

async function replay(options: CliOptions, seed: number): Promise<number> {
  const store: StoreKind = options.store === "mixed" ? "memory" : options.store;
  const spill = options.history === undefined ? undefined : options.history === "file";
  const outcome = await runSeed({ seed, policy: options.policy, store, scenario: options.scenario }, options.twice, true, spill);
  const { result } = outcome;
  const params = result.params;
  process.stdout.write(`seed ${seed}: scenario ${params.scenario}, ${params.dialect} dialect, ${params.peers} peers, ${params.messages} messages, ${params.channels.length} channel(s), policy ${params.policy}, store ${params.store}\n`);
  process.stdout.write(`trace ${outcome.traceHash}${outcome.deterministic === undefined ? "" : outcome.deterministic ? " (deterministic: second run identical)" : " (NOT deterministic)"}\n`);
  process.stdout.write(`converged after ${outcome.convergenceMs ?? "never"} virtual ms of liveness; ${result.history?.length ?? 0} events; ${Math.round(outcome.wallMs)} ms wall\n`);
  for (const measured of outcome.measured.slice(0, 10)) process.stdout.write(`measured ${measured.invariant}: ${measured.message}\n`);
  const first = outcome.failures[0];
  if (first === undefined) {
    process.stdout.write("all invariants held\n");
  } else {
    process.stdout.write(`FIRST VIOLATION ${first.invariant} at t=${first.atMs - 1_767_225_600_000} ms: ${first.message}\n`);
    for (const line of result.history?.window(first.eventIndex) ?? []) process.stdout.write(`${line}\n`);
    process.stdout.write(`${outcome.failures.length} violation(s) in total: ${[...new Set(outcome.failures.map((failure) => failure.invariant))].join(", ")}\n`);
  }
  process.stdout.write(`counters ${JSON.stringify(outcome.counters.toJSON())}\n`);
  if (options.grep !== undefined) {
    const needle = options.grep;
    result.history?.forEachFrom(0, (event, index) => {
      const line = JSON.stringify(event);
      if (line.includes(needle)) process.stdout.write(`#${index} ${line}\n`);
    });
  }
  return first === undefined ? 0 : 1;
}

async function batch(options: CliOptions, count: number): Promise<number> {
  const base = options.base ?? baseFromGit();
  const plans: SeedPlan[] = [];
  if (options.regressions) for (const entry of readRegressions()) plans.push({ seed: entry.seed, policy: entry.policy, store: entry.store, scenario: entry.scenario });
  for (let index = 0; index < count; index += 1) {
    const seed = (base + index) >>> 0;
    const store: StoreKind = options.store === "mixed" ? (index % 10 === 9 ? "sqlite" : "memory") : options.store;
    plans.push({ seed, policy: options.policy, store, scenario: options.scenario });
  }
  process.stderr.write(`sim: ${plans.length} seeds (${count} from base ${base}), policy ${options.policy}, store ${options.store}${options.twice ? ", each twice (D1)" : ""}\n`);
  const started = performance.now();
  const report = await runCampaign({
    plans, twice: options.twice,
    onSeed: (outcome, index) => {
      if (outcome.failures.length > 0) {
        const first = outcome.failures[0];
        process.stderr.write(`FAIL seed ${outcome.seed} (${outcome.scenario}, ${outcome.policy}, ${outcome.store}): ${first?.invariant} ${first?.message}\n  replay: npm run sim -- --seed ${outcome.seed} --policy ${outcome.policy} --store ${outcome.store}\n`);
      } else if (index % 50 === 49) process.stderr.write(`sim: ${index + 1}/${plans.length} seeds, ${Math.round((performance.now() - started) / 1000)} s\n`);
    },
  });
  const summary = summarise(report, performance.now() - started);
  process.stdout.write(summary.text);
  if (options.report !== undefined) writeFileSync(options.report, `${JSON.stringify(summary.json, null, 2)}\n`);
  if (options.record) {
    const added = appendRegressions(report.outcomes);
    if (added > 0) process.stderr.write(`sim: appended ${added} failing seed(s) to test/sim/regressions.json\n`);
  }
  const failed = report.outcomes.filter((outcome) => outcome.failures.length > 0).length;
  return failed > 0 || report.blindSpots.length > 0 ? 1 : 0;
}

const options = parse(process.argv.slice(2));
const status = options.seed !== undefined ? await replay(options, options.seed) : await batch(options, options.seeds ?? 0);
process.exitCode = status;
