/**
 * Turns a campaign into the figures docs/reliability.md reports: per scenario, the delivery
 * outcome of every (message, peer) pair (delivered / reported lost / reported undelivered /
 * excused / silent), convergence time p50/p99 in virtual time, wire messages per accepted
 * message; wire overhead per loss rate; the counts that prove each fault fired; and what the
 * persistence policy lost (sender amnesia, duplicate delivery after restart).
 */
import type { CampaignReport, SeedOutcome } from "./campaign.js";
import { Counters } from "./counters.js";
import { SCENARIO_TITLES, type ScenarioId } from "./scenarios.js";

/** A percentile of sorted numbers (nearest rank). */
export function percentile(sorted: readonly number[], share: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(share * sorted.length) - 1));
  return sorted[rank] as number;
}

interface ScenarioFigures {
  scenario: string;
  title: string;
  seeds: number;
  failedSeeds: number;
  accepted: number;
  pairs: number;
  delivered: number;
  reportedLost: number;
  reportedUndelivered: number;
  excused: number;
  silent: number;
  notConverged: number;
  convergenceP50Ms: number | null;
  convergenceP99Ms: number | null;
  wirePerAccepted: number | null;
  /** Content, resend and repair publishes per accepted message (sync traffic excluded). */
  dataPathPerAccepted: number | null;
  resends: number;
  repairs: number;
  syncs: number;
  amnesia: number;
  duplicatesAfterRestart: number;
}

function figuresOf(scenario: string, outcomes: readonly SeedOutcome[]): ScenarioFigures {
  const counters = new Counters();
  for (const outcome of outcomes) counters.merge(outcome.counters);
  const times = outcomes.map((outcome) => outcome.convergenceMs).filter((value): value is number => value !== null).sort((a, b) => a - b);
  const accepted = counters.get("workload.accepted");
  const wire = counters.get("wire.content") + counters.get("wire.resend") + counters.get("wire.repair") + counters.get("wire.sync") + counters.get("wire.ephemeral");
  const excused = counters.entries().filter(([name]) => name.startsWith("l1.excused.")).reduce((sum, [, value]) => sum + value, 0);
  const delivered = counters.get("l1.ok");
  const reportedLost = counters.get("l1.reported.lost");
  const reportedUndelivered = counters.get("l1.reported.undelivered");
  const silent = counters.get("l1.owed");
  return {
    scenario, title: SCENARIO_TITLES[scenario as ScenarioId] ?? scenario, seeds: outcomes.length,
    failedSeeds: outcomes.filter((outcome) => outcome.failures.length > 0).length,
    accepted, pairs: delivered + reportedLost + reportedUndelivered + excused + silent, delivered, reportedLost, reportedUndelivered, excused, silent,
    notConverged: counters.get("run.not-converged"),
    convergenceP50Ms: percentile(times, 0.5), convergenceP99Ms: percentile(times, 0.99),
    wirePerAccepted: accepted === 0 ? null : Math.round((wire / accepted) * 100) / 100,
    dataPathPerAccepted: accepted === 0 ? null : Math.round(((counters.get("wire.content") + counters.get("wire.resend") + counters.get("wire.repair")) / accepted) * 100) / 100,
    resends: counters.get("wire.resend"), repairs: counters.get("wire.repair"), syncs: counters.get("wire.sync"),
    amnesia: counters.get("amnesia.best-effort") + counters.get("amnesia.write-before-release"),
    duplicatesAfterRestart: counters.get("check.duplicate-after-restart.best-effort"),
  };
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const name = key(item);
    const list = groups.get(name) ?? [];
    list.push(item);
    groups.set(name, list);
  }
  return groups;
}

function percent(part: number, whole: number): string {
  return whole === 0 ? "–" : `${((part / whole) * 100).toFixed(2)} %`;
}

/** Text for the terminal and JSON for the docs. */
export function summarise(report: CampaignReport, wallMs: number): { text: string; json: Record<string, unknown> } {
  const byScenario = groupBy(report.outcomes, (outcome) => outcome.scenario);
  const scenarios = [...byScenario.entries()].sort(([a], [b]) => a.localeCompare(b, "en", { numeric: true })).map(([name, list]) => figuresOf(name, list));
  const f1 = report.outcomes.filter((outcome) => outcome.scenario === "F1");
  const overhead = [...groupBy(f1, (outcome) => String(outcome.lossBp)).entries()].sort(([a], [b]) => Number(a) - Number(b)).map(([loss, list]) => {
    const figures = figuresOf(`F1@${loss}`, list);
    return {
      lossPercent: Number(loss) / 100, seeds: list.length, accepted: figures.accepted, wirePerAccepted: figures.wirePerAccepted,
      dataPathPerAccepted: figures.dataPathPerAccepted, resends: figures.resends, repairs: figures.repairs,
      convergenceP50Ms: figures.convergenceP50Ms, convergenceP99Ms: figures.convergenceP99Ms, delivered: figures.delivered, pairs: figures.pairs,
    };
  });
  const failed = report.outcomes.filter((outcome) => outcome.failures.length > 0);
  const nondeterministic = report.outcomes.filter((outcome) => outcome.deterministic === false).length;
  const lines: string[] = [];
  lines.push(`seeds ${report.outcomes.length}, failed ${failed.length}, non-deterministic ${nondeterministic}, wall ${(wallMs / 1000).toFixed(1)} s`);
  lines.push("scenario  seeds fail  pairs  delivered  lost-rep  undeliv-rep excused silent  conv p50/p99 (virtual ms)  wire/msg");
  for (const figures of scenarios) {
    lines.push([
      figures.scenario.padEnd(8), String(figures.seeds).padStart(6), String(figures.failedSeeds).padStart(5), String(figures.pairs).padStart(6),
      percent(figures.delivered, figures.pairs).padStart(10), String(figures.reportedLost).padStart(9), String(figures.reportedUndelivered).padStart(12),
      String(figures.excused).padStart(7), String(figures.silent).padStart(6),
      `${figures.convergenceP50Ms ?? "–"}/${figures.convergenceP99Ms ?? "–"}`.padStart(27), String(figures.wirePerAccepted ?? "–").padStart(9),
    ].join(" "));
  }
  if (overhead.length > 0) {
    lines.push(`F1 publishes per accepted message by loss (all / content+resend+repair): ${overhead.map((row) => `${row.lossPercent} % → ${row.wirePerAccepted} / ${row.dataPathPerAccepted}`).join(", ")}`);
  }
  const faults = report.counters.entries().filter(([name]) => /^(net|crash|restart|store|clock|amnesia|check|engine|wire|l1|l4)\./.test(name));
  lines.push(`counters: ${faults.map(([name, value]) => `${name}=${value}`).join(" ")}`);
  if (report.blindSpots.length > 0) lines.push(`BLIND SPOTS (expected counters at zero): ${report.blindSpots.join("; ")}`);
  for (const outcome of failed.slice(0, 20)) {
    const first = outcome.failures[0];
    lines.push(`FAILED seed ${outcome.seed} ${outcome.scenario} ${outcome.policy}/${outcome.store}: ${first?.invariant} ${first?.message}`);
  }
  return {
    text: `${lines.join("\n")}\n`,
    json: {
      seeds: report.outcomes.length, failedSeeds: failed.map((outcome) => ({ seed: outcome.seed, policy: outcome.policy, store: outcome.store, scenario: outcome.scenario, first: outcome.failures[0] })),
      nondeterministic, wallSeconds: Math.round(wallMs / 100) / 10, scenarios, overheadByLoss: overhead, blindSpots: report.blindSpots, counters: report.counters.toJSON(),
    },
  };
}
