/**
 * `sds inspect-db [DB]`: look inside a channel database — header facts, SQLite's integrity
 * check, a per-channel table, protocol invariants and the rows that fail them — and, with
 * `--repair`, mend it after writing a backup. Works on databases written by logos-delivery /
 * nim-sds as well as ours. Read-only unless `--repair`. Exit 4 when a check fails.
 * Contract: docs/commands/inspect-db.md.
 */
import * as Args from "@oclif/core/args";
import * as Flags from "@oclif/core/flags";
import { resolveDataDir, resolveIdentity } from "../app/paths.js";
import type { renderTable } from "../app/table.js";
import { assert } from "../core/assert.js";
import { BaseCommand, ExitWith, jsonReplacer } from "../cli/base-command.js";
import { EXIT } from "../cli/exit-codes.js";
import { asFlag } from "../cli/flags.js";
// The store modules (better-sqlite3) load in run(): the command map imports every command
// module, so their top-level imports are start-up time of every command.
import type { ChannelSummary, InspectReport } from "../core/store/inspect.js";
import type { RepairResult } from "../core/store/repair.js";

/** A duration in ms as a short human string (`1.5s`, `3m12s`, `-4s` for overdue). */
export function formatDuration(ms: number): string {
  const sign = ms < 0 ? "-" : "";
  const abs = Math.abs(ms);
  if (abs < 1000) return `${sign}${abs}ms`;
  if (abs < 60_000) return `${sign}${(abs / 1000).toFixed(1)}s`;
  if (abs < 3_600_000) return `${sign}${Math.floor(abs / 60_000)}m${Math.floor((abs % 60_000) / 1000)}s`;
  return `${sign}${Math.floor(abs / 3_600_000)}h${Math.floor((abs % 3_600_000) / 60_000)}m`;
}

export default class InspectDb extends BaseCommand<typeof InspectDb> {
  static override summary = "Inspect, check and repair a channel database (ours or logos-delivery's).";
  static override description = `Prints the SQLite header facts, the result of quick_check (--full: integrity_check), one row per channel (lamport, history, unacknowledged messages, messages waiting on dependencies, repair timers) and the protocol invariants, then any rows that fail their checks.
Opens the database read-only. --repair first writes <DB>.backup, then moves rows that fail to decode or fail their checksum to the sdstk.quarantine category, rebuilds checksums, missing meta rows and counters, and prints every change.
Exit status 4 when a check fails (after --repair: when one still fails).`;

  static override examples = [
    "<%= config.bin %> inspect-db ~/.local/share/sds/alice.db",
    "<%= config.bin %> inspect-db --as alice --channel demo --history",
    "<%= config.bin %> inspect-db ./data/sds.db --json | jq '.checks[] | select(.ok == false)'",
    "<%= config.bin %> inspect-db ./broken.db --repair",
  ];

  static override enableJsonFlag = true;

  static override args = {
    db: Args.string({ description: "Database file (default: the one of --as, else the default identity's).", required: false, ignoreStdin: true }),
  };

  static override flags = {
    as: asFlag,
    full: Flags.boolean({ description: "Run integrity_check (slower) instead of quick_check." }),
    channel: Flags.string({ description: "Show only this channel." }),
    history: Flags.boolean({ description: "List the channel's history messages (needs --channel).", dependsOn: ["channel"] }),
    repair: Flags.boolean({ description: "Repair: backup to <DB>.backup, quarantine bad rows, rebuild what can be rebuilt." }),
    "history-max": Flags.integer({ description: "Cap checked on history messages per channel.", default: 10_000, min: 1 }),
    "buffer-max": Flags.integer({ description: "Cap checked on buffered messages per channel.", default: 10_000, min: 1 }),
  };

  public async run(): Promise<void> {
    const path = this.args.db ?? resolveIdentity({ as: this.flags.as, channel: this.flags.channel, dataDir: resolveDataDir({ env: process.env, configDataDir: this.config.dataDir }) }).dbPath;
    const options = {
      full: this.flags.full,
      history: this.flags.history,
      historyEntriesMax: this.flags["history-max"],
      bufferEntriesMax: this.flags["buffer-max"],
      ...(this.flags.channel !== undefined ? { channel: this.flags.channel } : {}),
    };
    let repair: RepairResult | undefined;
    let report: InspectReport;
    if (this.flags.repair) {
      this.status(`repairing ${path} (backup first)`);
      const { repairDatabase } = await import("../core/store/repair.js");
      repair = await repairDatabase(path, options);
      report = repair.after;
    } else {
      const { inspectDatabase } = await import("../core/store/inspect.js");
      report = inspectDatabase(path, options);
    }
    if (this.jsonMode) {
      this.out(JSON.stringify(repair ? { ...report, repair: { backupPath: repair.backupPath, changes: repair.changes } } : report, jsonReplacer));
    } else {
      this.tableRenderer = (await import("../app/table.js")).renderTable;
      if (repair) this.renderRepair(repair);
      this.render(report);
    }
    if (!report.ok) {
      this.status(`${report.checks.filter((check) => !check.ok).length} check(s) failed`);
      throw new ExitWith(EXIT.checkFailed);
    }
  }

  /** Loaded in run() only when tables are drawn: cli-table3 would cost every command's start-up. */
  private tableRenderer: typeof renderTable | undefined;

  private table(head: string[], rows: Array<Array<string | number | undefined>>, title?: string): void {
    assert(this.tableRenderer !== undefined, "inspect-db: the table renderer is loaded before rendering");
    this.out(this.tableRenderer(head, rows, { color: this.colors.out.red("x") !== "x", ...(title ? { title } : {}) }));
  }

  private renderRepair(repair: RepairResult): void {
    this.out(`backup written to ${repair.backupPath}`);
    if (repair.changes.length === 0) this.out("repair: nothing to change");
    else this.table(["action", "category", "channel", "key", "reason"], repair.changes.map((c) => [c.action, c.category, c.channelId ?? "", c.key.slice(0, 40), c.reason]), `repair: ${repair.changes.length} change(s)`);
  }

  private render(report: InspectReport): void {
    const h = report.header;
    this.table(
      ["fact", "value"],
      [
        ["file", `${report.path} (${report.format === "sdstk" ? "sds-toolkit format" : "foreign: logos-delivery / nim layout"})`],
        ["file size", `${h.fileBytes} B (${h.pageCount} pages of ${h.pageSizeBytes} B, ${h.freelistPages} free)`],
        ["encoding", h.encoding],
        ["user_version", h.userVersion],
        ["journal mode", `${h.journalMode} (WAL file ${h.walBytes} B)`],
        ["SQLite", h.sqliteVersion],
        ["rows", Object.entries(report.rowCounts).map(([category, count]) => `${category} ${count}`).join(", ") || "none"],
      ],
      "database",
    );
    this.renderChannels(report.channels);
    if (report.history) {
      this.table(["message", "lamport", "sender", "bytes", "depends on"], report.history.messages.map((m) => [m.messageId, m.lamportTimestamp, m.senderId, m.contentBytes, m.causalHistory.join(" ")]), `history of ${report.history.channelId} (oldest first)`);
    }
    const mark = (ok: boolean) => (ok ? this.colors.out.green("ok") : this.colors.out.red("FAIL"));
    this.table(["check", "result", "detail"], report.checks.map((c) => [c.name, mark(c.ok), c.detail]), "checks");
    if (report.problems.length > 0) {
      this.table(["category", "channel", "key", "problem", "repair would"], report.problems.map((p) => [p.category, p.channelId ?? "", p.key.slice(0, 40), p.reason, p.action]), `${report.problems.length} problem row(s)`);
    }
  }

  private renderChannels(channels: ChannelSummary[]): void {
    if (channels.length === 0) {
      this.out("no channels");
      return;
    }
    this.table(
      ["channel", "lamport", "history", "lamport span", "unacked", "waiting", "repair req/resp", "layout"],
      channels.map((c) => [c.channelId, c.lamportTimestamp ?? "(none)", c.historyCount, c.historyLamportMin === undefined ? "" : `${c.historyLamportMin}..${c.historyLamportMax}`, c.unacknowledged.length, c.waiting.length, `${c.outgoingRepair.length}/${c.incomingRepair.length}`, c.layout]),
      "channels",
    );
    for (const c of channels) {
      const rows: Array<Array<string | number | undefined>> = [
        ...c.unacknowledged.map((u) => ["unacknowledged", u.messageId, `age ${formatDuration(u.ageMs)}, ${u.resendAttempts} resend(s)`]),
        ...c.waiting.map((w) => ["waiting", w.messageId, `for ${w.waitingFor.join(", ")}`]),
        ...c.outgoingRepair.map((r) => ["repair request", r.messageId, `due in ${formatDuration(r.dueInMs)}`]),
        ...c.incomingRepair.map((r) => ["repair response", r.messageId, `due in ${formatDuration(r.dueInMs)}`]),
      ];
      if (rows.length > 0) this.table(["buffer", "message", "state"], rows, `${c.channelId}: buffers`);
    }
  }
}
