/**
 * `sds demo`: the one-command tour. An embedded relay with a lossy link, three peers in temp
 * dirs, live progress on stderr, and a table of what each peer sent, delivered, had
 * acknowledged, resent and repaired. Exit 0 only if every peer delivered everything exactly
 * once in causal order (4 otherwise). The scenario itself is src/app/demo.ts.
 */
import * as Flags from "@oclif/core/flags";
// Heavy modules (ws, better-sqlite3, ora, cli-table3) load in run(): the command map imports
// every command module, so their top-level imports are start-up time of every command.
import type { DemoReport } from "../app/demo.js";
import type { renderTable } from "../app/table.js";
import { BaseCommand } from "../cli/base-command.js";
import { useColor } from "../cli/color.js";
import { SdsError } from "../core/errors.js";

export default class Demo extends BaseCommand<typeof Demo> {
  static override summary = "Three peers over a lossy embedded relay: watch SDS deliver everything exactly once, in causal order.";
  static override description =
    "Starts an in-process relay on a random loopback port whose link drops and duplicates deliveries, opens three peers (alice, bob, carol) with their own databases in a temp dir, has each send --messages messages, and prints per peer what was sent, delivered, acknowledged, resent and repaired. SDS timings are shortened for the demo (resend 600 ms, repair T_min 200 ms / T_max 800 ms, sync 1 s).";
  static override examples = ["<%= config.bin %> demo", "<%= config.bin %> demo --messages 50 --drop 0.3", "<%= config.bin %> demo --json | jq .converged"];
  static override enableJsonFlag = true;
  static override flags = {
    messages: Flags.integer({ description: "Messages each peer sends.", min: 1, max: 10_000, default: 20 }),
    drop: Flags.string({ description: "Probability that the link drops a delivery (0-1).", default: "0.2" }),
    duplicate: Flags.string({ description: "Probability that the link duplicates a delivery (0-1).", default: "0.1" }),
    seed: Flags.integer({ description: "Seed of the link's faults (default: random, printed)." }),
    timeout: Flags.integer({ description: "Give up after this many seconds.", min: 1, default: 60 }),
    keep: Flags.boolean({ description: "Keep the peers' databases and print where they are." }),
  };

  public async run(): Promise<DemoReport | undefined> {
    const { flags } = this;
    const dropRate = rate("drop", flags.drop);
    const duplicateRate = rate("duplicate", flags.duplicate);
    const seed = flags.seed ?? Math.floor(Math.random() * 1_000_000);
    const [{ DEMO_SDS_CONFIG, DEMO_TICK_INTERVAL_MS, runDemo }, { createProgress }, { renderTable }] = await Promise.all([import("../app/demo.js"), import("../app/progress.js"), import("../app/table.js")]);
    const colorErr = useColor({ isTTY: Boolean(process.stderr.isTTY), env: process.env, flag: flags.color });
    const colorOut = useColor({ isTTY: Boolean(process.stdout.isTTY), env: process.env, flag: flags.color });
    const progress = createProgress({ quiet: flags.quiet, stderrIsTTY: Boolean(process.stderr.isTTY), color: colorErr });
    this.status(`sds demo: 3 peers (alice, bob, carol) x ${flags.messages} messages over an embedded relay whose link drops ${pct(dropRate)} and duplicates ${pct(duplicateRate)} of deliveries (seed ${seed})`);
    const c = DEMO_SDS_CONFIG;
    this.status(`SDS timings shortened for the demo: resend every ${c.resendIntervalMs} ms, repair T_min ${c.repairTMinMs} ms / T_max ${c.repairTMaxMs} ms, sync every ${c.syncIntervalMs} ms, tick ${DEMO_TICK_INTERVAL_MS} ms`);
    progress.start("starting relay and peers");
    let report: DemoReport;
    try {
      report = await runDemo({
        messages: flags.messages,
        dropRate,
        duplicateRate,
        seed,
        timeoutMs: flags.timeout * 1000,
        sendGapMsMax: 200,
        keep: flags.keep,
        signal: this.abort.signal,
        onProgress: (current) => progress.update(describe(current)),
      });
    } catch (error) {
      progress.fail("demo failed");
      throw error;
    }
    if (this.abort.signal.aborted) {
      progress.stop();
      throw this.abort.signal.reason;
    }
    const verdict = report.converged
      ? `every peer delivered all ${report.peers[0]?.expected ?? 0} messages of the others exactly once, in causal order, in ${(report.elapsedMs / 1000).toFixed(1)} s`
      : `NOT converged within ${flags.timeout} s`;
    if (report.converged) progress.succeed(verdict);
    else progress.fail(verdict);
    if (this.jsonEnabled()) {
      if (!report.converged) process.exitCode = 4;
      return report;
    }
    this.out(table(report, colorOut, renderTable));
    this.status(`link: ${report.link.delivered} deliveries, ${report.link.dropped} dropped, ${report.link.duplicated} duplicated; relay ${report.relayUrl}`);
    if (report.kept) this.status(`databases kept in ${report.dir} (try: sds inspect-db ${report.dir}/alice.db)`);
    if (!report.allAcknowledged && report.converged) this.status("some sends were still unacknowledged when the demo ended (acks travel with later messages)");
    if (!report.converged) throw new SdsError("E_CHECK_FAILED", "the peers did not all deliver everything exactly once in causal order", { peers: report.peers });
    this.status("next: run `sds listen demo --as bob` in one terminal and `seq 1 5 | sds send demo --as alice` in another");
    return undefined;
  }
}

function describe(report: DemoReport): string {
  const peers = report.peers.map((peer) => `${peer.peer} ${peer.delivered}/${peer.expected}`).join(" · ");
  const resent = report.peers.reduce((sum, peer) => sum + peer.resent, 0);
  const fetched = report.peers.reduce((sum, peer) => sum + peer.fetched, 0);
  const acked = report.peers.reduce((sum, peer) => sum + peer.acknowledged, 0);
  const sent = report.peers.reduce((sum, peer) => sum + peer.sent, 0);
  return `delivered ${peers} | acked ${acked}/${sent} | resent ${resent} | fetched ${fetched} | link dropped ${report.link.dropped}`;
}

function table(report: DemoReport, color: boolean, render: typeof renderTable): string {
  const head = ["peer", "sent", "delivered", "acknowledged", "resent", "repaired (store)", "repair req/ans", "dup", "out of order"];
  const rows = report.peers.map((peer) => [
    `${peer.peer} (${peer.participantId})`,
    peer.sent,
    `${peer.delivered}/${peer.expected}`,
    `${peer.acknowledged}/${peer.sent}`,
    peer.resent,
    peer.fetched,
    `${peer.repairRequested}/${peer.repairAnswered}`,
    peer.duplicatesDelivered,
    peer.outOfOrder,
  ]);
  const caption = `channel demo: ${report.messagesPerPeer} messages per peer, link drop ${pct(report.dropRate)} / duplicate ${pct(report.duplicateRate)}, seed ${report.seed}`;
  return `${caption}\n${render(head, rows, { color })}`;
}

function rate(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || value > 1) throw new SdsError("E_USAGE", `--${name} must be a number between 0 and 1, got ${JSON.stringify(text)}`);
  return value;
}

function pct(value: number): string {
  return `${Math.round(value * 100)}%`;
}
