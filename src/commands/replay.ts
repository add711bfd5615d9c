/**
 * `sds replay CAPTURE`: replay a capture file (written by `sds listen --capture`) onto a relay
 * (`--to URL`) or into a channel database (`--into IDENTITY|PATH`), at the recorded pace, a
 * multiple of it (`--speed`), a rate cap (`--max-rate`) or top speed; a summary table (or
 * `--json`) at the end. See docs/commands/replay.md for the capture format.
 */
import * as Args from "@oclif/core/args";
import * as Flags from "@oclif/core/flags";
import { openCapture } from "../app/capture.js";
import { resolveDataDir, resolveIdentity, validateName } from "../app/paths.js";
import { asReceived, replayCapture, type ReplaySummary, type ReplayTarget } from "../app/replay.js";
// Heavy modules (ws, better-sqlite3, ora, cli-table3) load in run(): the command map imports
// every command module, so their top-level imports are start-up time of every command.
import { BaseCommand } from "../cli/base-command.js";
import { useColor } from "../cli/color.js";
import { dialectFlag, keyFlag } from "../cli/flags.js";
import { SdsError } from "../core/errors.js";

/** The `--json` document of `sds replay`. */
export interface ReplayReport extends ReplaySummary {
  target: string;
  mode: "relay" | "database";
  channel: string | null;
  /** Whole payloads delivered into the database (`--into` only). */
  messagesDelivered: number | null;
}

export default class Replay extends BaseCommand<typeof Replay> {
  static override summary = "Replay captured traffic onto a relay (--to) or into a channel database (--into).";
  static override examples = [
    "<%= config.bin %> replay traffic.ndjson --to ws://127.0.0.1:7645",
    "<%= config.bin %> replay traffic.ndjson --to ws://127.0.0.1:7645 --speed 10",
    "<%= config.bin %> replay traffic.ndjson --into carol --json",
  ];
  static override enableJsonFlag = true;
  static override args = { capture: Args.string({ required: true, description: "capture file (from `sds listen --capture`), or - for stdin", ignoreStdin: true }) };
  static override flags = {
    to: Flags.string({ description: "Relay URL to publish the envelopes on.", exactlyOne: ["to", "into"] }),
    into: Flags.string({ description: "Identity name, or a .db path, whose channel database receives the envelopes.", exactlyOne: ["to", "into"] }),
    channel: Flags.string({ description: "Channel to replay into (default: the capture's)." }),
    key: keyFlag,
    dialect: dialectFlag,
    speed: Flags.string({ description: "Multiple of the recorded pace (default 1 with --to; top speed with --into)." }),
    topspeed: Flags.boolean({ description: "As fast as possible.", exclusive: ["speed"] }),
    "max-rate": Flags.integer({ description: "At most this many envelopes per second.", min: 1 }),
  };

  public async run(): Promise<ReplayReport | undefined> {
    const { flags, args } = this;
    const speed = flags.topspeed ? 0 : flags.speed !== undefined ? parseSpeed(flags.speed) : flags.to !== undefined ? 1 : 0;
    const [{ createProgress }, { renderTable }] = await Promise.all([import("../app/progress.js"), import("../app/table.js")]);
    const capture = await openCapture(args.capture === "-" ? process.stdin : args.capture);
    const progress = createProgress({ quiet: flags.quiet || this.jsonEnabled(), stderrIsTTY: Boolean(process.stderr.isTTY), color: useColor({ isTTY: Boolean(process.stderr.isTTY), env: process.env, flag: flags.color }) });
    const { target, close, describe, channel, delivered } = await this.openTarget(capture.header.channel);
    let summary: ReplaySummary;
    try {
      progress.start(`replaying ${args.capture} ${describe}${speed > 0 ? ` at ${speed}x recorded pace` : " at top speed"}`);
      summary = await replayCapture(capture, target, {
        speed,
        rateMax: flags["max-rate"] ?? 0,
        signal: this.abort.signal,
        onProgress: (current) => progress.update(`${current.records} records replayed, ${current.delivered} new, ${current.duplicates} duplicates`),
      });
      progress.stop();
    } finally {
      await close();
    }
    if (this.abort.signal.aborted) throw this.abort.signal.reason;
    const report: ReplayReport = { ...summary, target: describe, mode: flags.to !== undefined ? "relay" : "database", channel, messagesDelivered: delivered() };
    if (this.jsonEnabled()) return report;
    const rows: Array<[string, string | number]> = [
      ["target", describe],
      ["records", summary.records],
      [flags.to !== undefined ? "published (new)" : "ingested", summary.delivered],
      ["duplicates", summary.duplicates],
      ["invalid envelopes", summary.invalid],
      ["refused", summary.failed],
      ["bytes", summary.bytes],
      ["recorded span", `${(summary.recordedMs / 1000).toFixed(2)} s`],
      ["elapsed", `${(summary.elapsedMs / 1000).toFixed(2)} s`],
    ];
    if (report.messagesDelivered !== null) rows.splice(3, 0, ["messages delivered", report.messagesDelivered]);
    this.out(renderTable(["replay", "value"], rows, { color: useColor({ isTTY: Boolean(process.stdout.isTTY), env: process.env, flag: flags.color }) }));
    return undefined;
  }

  private async openTarget(captureChannel: string | undefined): Promise<{ target: ReplayTarget; close: () => Promise<void>; describe: string; channel: string | null; delivered: () => number | null }> {
    const { flags } = this;
    if (flags.to !== undefined) {
      const { RelayClient } = await import("../core/relay/client.js");
      const client = await RelayClient.connect(flags.to);
      const target: ReplayTarget = {
        deliver: async ({ topic, envelope }) => ((await client.publish(topic, envelope)).duplicate ? "duplicate" : "new"),
      };
      return { target, close: () => client.close(), describe: `onto ${flags.to}`, channel: flags.channel ?? captureChannel ?? null, delivered: () => null };
    }
    const channel = flags.channel ?? captureChannel;
    if (channel === undefined) throw new SdsError("E_USAGE", "the capture names no channel: pass --channel NAME");
    validateName("channel", channel);
    const into = flags.into as string;
    const isPath = into.includes("/") || into.endsWith(".db");
    const location = resolveIdentity({ ...(isPath ? { db: into } : { as: into }), channel, dataDir: resolveDataDir({ env: process.env, configDataDir: this.config.dataDir }) });
    const [{ MemoryHub }, { ChannelSession }] = await Promise.all([import("../core/relay/memory-hub.js"), import("../app/session.js")]);
    const hub = new MemoryHub();
    const session = await ChannelSession.open({ channel, identity: location.identity, dbPath: location.dbPath, transport: hub.connect(), receive: false, key: flags.key, dialect: flags.dialect, onStatus: (text) => this.status(text) });
    let messages = 0;
    session.onMessage(() => (messages += 1));
    const target: ReplayTarget = {
      deliver: async (record) => {
        await session.channel.ingest(asReceived(record));
        return "new";
      },
    };
    return { target, close: () => session.close(), describe: `into ${location.dbPath} (channel ${channel})`, channel, delivered: () => messages };
  }
}

function parseSpeed(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new SdsError("E_USAGE", `--speed must be a positive number, got ${JSON.stringify(text)}`);
  return value;
}
