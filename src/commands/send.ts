/**
 * `sds send NAME [FILE|-]`: send lines (or NUL records, a whole binary input, base64 lines) on a
 * reliable channel and exit once the relay confirmed every message, or with `--wait-acks` once
 * the peers acknowledged them. Thin: input framing is src/app/stdin.ts, the loop
 * src/app/send-loop.ts, the peer src/app/session.ts. See docs/commands/send.md.
 */
import { createReadStream } from "node:fs";
import * as Args from "@oclif/core/args";
import * as Flags from "@oclif/core/flags";
import { sessionOptionsFromFlags } from "../app/from-flags.js";
import { sendAll, type SendTally } from "../app/send-loop.js";
// Heavy modules (ws, better-sqlite3, ora, cli-table3) load in run(): the command map imports
// every command module, so their top-level imports are start-up time of every command.
import { INPUT_MESSAGE_BYTES_MAX_DEFAULT, type InputMode, newInputStats, readMessages } from "../app/stdin.js";
import { BaseCommand } from "../cli/base-command.js";
import { useColor } from "../cli/color.js";
import { channelFlags, nulShorthand } from "../cli/flags.js";
import { SdsError } from "../core/errors.js";

/** The `--json` document of `sds send`. */
export interface SendSummary {
  channel: string;
  identity: string;
  sender: string;
  relay: string | null;
  messages: number;
  bytes: number;
  emptySkipped: number;
  confirmed: number;
  acknowledged: number | null;
  undelivered: number;
  publishErrors: number;
  batches: number;
  elapsedMs: number;
}

export default class Send extends BaseCommand<typeof Send> {
  static override summary = "Send messages on a channel; exit once the relay (or, with --wait-acks, the peers) confirmed them.";
  static override description = "Reads one message per line by default (CRLF handled, empty lines skipped), or NUL-separated records (-0), the whole input as one message (--binary), or one base64 message per line (--base64).";
  static override examples = [
    "seq 1 100 | <%= config.bin %> send demo --as alice",
    "<%= config.bin %> send demo notes.txt",
    "<%= config.bin %> send blobs --binary < photo.jpg",
    "echo hello | <%= config.bin %> send demo --wait-acks --timeout 30",
  ];
  static override enableJsonFlag = true;
  static override args = {
    name: Args.string({ required: true, description: "channel name" }),
    file: Args.string({ description: "input file, or - for stdin", default: "-", ignoreStdin: true }),
  };
  static override flags = {
    ...channelFlags,
    null: Flags.boolean({ description: "Input records are NUL-terminated (also -0).", exclusive: ["binary", "base64"] }),
    binary: Flags.boolean({ description: "The whole input is one message.", exclusive: ["null", "base64"] }),
    base64: Flags.boolean({ description: "One base64-encoded message per line.", exclusive: ["null", "binary"] }),
    "wait-acks": Flags.boolean({ description: "Wait until peers acknowledged every message (SDS), not only the relay." }),
    timeout: Flags.integer({ description: "Seconds to wait for confirmations after the input ended (0 = forever; default 60 with --wait-acks).", min: 0 }),
    batch: Flags.integer({ description: "Messages per group commit (one transaction each).", min: 1, max: 10_000, default: 64 }),
    "max-bytes": Flags.integer({ description: "Largest message accepted from the input, bytes.", min: 1, default: INPUT_MESSAGE_BYTES_MAX_DEFAULT }),
  };

  public override async init(): Promise<void> {
    this.argv = nulShorthand(this.argv);
    await super.init();
  }

  public async run(): Promise<SendSummary> {
    const { flags, args } = this;
    const mode: InputMode = flags.null ? "nul" : flags.binary ? "binary" : flags.base64 ? "base64" : "lines";
    const waitAcks = flags["wait-acks"];
    const [{ CLI_SDS_CONFIG, ChannelSession }, { createProgress }] = await Promise.all([import("../app/session.js"), import("../app/progress.js")]);
    const timeoutSeconds = flags.timeout ?? (waitAcks ? 60 : 0);
    const options = sessionOptionsFromFlags(args.name, flags, this.config.dataDir, { receive: waitAcks, sdsConfig: CLI_SDS_CONFIG, onStatus: (text) => this.status(text) });
    const source = args.file === "-" ? process.stdin : await openFile(args.file);
    if (args.file === "-" && process.stdin.isTTY) this.status("reading messages from the terminal, one per line; Ctrl-D to finish");
    const startedMs = Date.now();
    const session = await ChannelSession.open(options);
    const progress = createProgress({ quiet: flags.quiet || this.jsonEnabled(), stderrIsTTY: Boolean(process.stderr.isTTY), color: useColor({ isTTY: Boolean(process.stderr.isTTY), env: process.env, flag: flags.color }) });
    const stats = newInputStats();
    let tally: SendTally | undefined;
    const describe = (t: SendTally) => `sending on ${args.name}: ${t.sent} sent, ${t.confirmed} confirmed by the relay${waitAcks ? `, ${t.acknowledged} acknowledged` : ""}`;
    session.channel.on("send-error", ({ error }) => this.detail(`publish failed (SDS will resend): ${error.code}: ${error.message}`));
    try {
      progress.start(`sending on ${args.name} as ${options.identity} via ${session.relayUrl ?? "relay"}`);
      tally = await sendAll(session, readMessages(source, { mode, messageBytesMax: flags["max-bytes"] }, stats), {
        batchMessagesMax: flags.batch,
        inFlightMax: 1024,
        waitAcks,
        timeoutMs: timeoutSeconds * 1000,
        signal: this.abort.signal,
        onProgress: (t) => progress.update(describe(t)),
        // Without --wait-acks nothing ticks; after a failed publish, tick so SDS resends it.
        onStalled: waitAcks ? undefined : () => session.channel.tick(),
      });
      progress.stop();
    } catch (error) {
      progress.stop();
      throw error;
    } finally {
      if (source !== process.stdin) (source as ReturnType<typeof createReadStream>).destroy();
      else process.stdin.destroy();
      await session.close();
    }
    if (this.abort.signal.aborted) throw this.abort.signal.reason;
    const summary: SendSummary = {
      channel: args.name,
      identity: options.identity,
      sender: session.participantId,
      relay: session.relayUrl ?? null,
      messages: tally.sent,
      bytes: stats.bytes,
      emptySkipped: stats.emptySkipped,
      confirmed: tally.confirmed,
      acknowledged: waitAcks ? tally.acknowledged : null,
      undelivered: tally.undelivered,
      publishErrors: tally.publishErrors,
      batches: tally.batches,
      elapsedMs: Date.now() - startedMs,
    };
    if (!this.jsonEnabled()) {
      const skipped = stats.emptySkipped > 0 ? `, ${stats.emptySkipped} empty skipped` : "";
      const acked = waitAcks ? `, peers acknowledged ${tally.acknowledged}` : "";
      this.status(`sent ${tally.sent} messages (${formatBytes(stats.bytes)}) on ${args.name} as ${options.identity} in ${(summary.elapsedMs / 1000).toFixed(2)} s: relay confirmed ${tally.confirmed}${acked}${skipped}`);
    }
    return summary;
  }
}

async function openFile(path: string): Promise<ReturnType<typeof createReadStream>> {
  const stream = createReadStream(path);
  await new Promise<void>((resolve, reject) => {
    stream.once("open", () => resolve());
    stream.once("error", (error: NodeJS.ErrnoException) => reject(new SdsError("E_INPUT_INVALID", `cannot read ${path}: ${error.code ?? error.message}`, { path })));
  });
  return stream;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
