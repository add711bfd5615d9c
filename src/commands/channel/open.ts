/**
 * `sds channel open NAME`: open (or resume — idempotent) a channel as an identity and use it
 * duplex: stdin lines are sent, delivered messages are printed on stdout, status on stderr.
 * `--json` turns stdout into NDJSON of deliveries and send outcomes. Runs until Ctrl-C, or
 * with `--exit-on-eof` until stdin ends and the relay confirmed what was sent.
 * See docs/commands/channel-open.md.
 */
import * as Args from "@oclif/core/args";
import * as Flags from "@oclif/core/flags";
import { sessionOptionsFromFlags } from "../../app/from-flags.js";
import { outputPosition, planReprint } from "../../app/printed.js";
import { type OutputMode, formatMessage } from "../../app/render.js";
import { holdUntil, sendAll } from "../../app/send-loop.js";
// Heavy modules (ws, better-sqlite3, ora, cli-table3) load in run(): the command map imports
// every command module, so their top-level imports are start-up time of every command.
import { type InputMode, readMessages } from "../../app/stdin.js";
import { BaseCommand } from "../../cli/base-command.js";
import { channelFlags } from "../../cli/flags.js";

export default class ChannelOpen extends BaseCommand<typeof ChannelOpen> {
  static override summary = "Open or resume a channel and use it duplex: stdin lines are sent, delivered messages printed.";
  static override examples = [
    "<%= config.bin %> channel open demo --as alice",
    "<%= config.bin %> channel open demo --as bob --json",
    "printf 'hi\\nthere\\n' | <%= config.bin %> channel open demo --as carol --exit-on-eof",
  ];
  static override enableJsonFlag = true;
  static override args = { name: Args.string({ required: true, description: "channel name" }) };
  static override flags = {
    ...channelFlags,
    base64: Flags.boolean({ description: "stdin lines are base64 messages, and payloads are printed as base64." }),
    "exit-on-eof": Flags.boolean({ description: "Exit once stdin ends and the relay confirmed everything sent (default: keep listening)." }),
  };

  public async run(): Promise<undefined> {
    const { flags, args } = this;
    const json = this.jsonEnabled();
    const { CLI_SDS_CONFIG, ChannelSession } = await import("../../app/session.js");
    const output: OutputMode = json ? "json" : flags.base64 ? "base64" : "text";
    const input: InputMode = flags.base64 ? "base64" : "lines";
    const options = sessionOptionsFromFlags(args.name, flags, this.config.dataDir, { receive: true, printedMarks: true, sdsConfig: CLI_SDS_CONFIG, onStatus: (text) => this.status(text) });
    const session = await ChannelSession.open(options);
    const write = (data: string | Buffer) => {
      if (!this.abort.signal.aborted) process.stdout.write(data);
    };
    try {
      const opened = { type: "open", channel: args.name, identity: options.identity, sender: session.participantId, dialect: session.dialect, relay: session.relayUrl ?? null, db: options.dbPath };
      if (json) write(`${JSON.stringify(opened)}\n`);
      this.status(`channel ${args.name} open as ${options.identity} (${session.participantId}, ${session.dialect} dialect) via ${session.relayUrl ?? "relay"}; type lines to send, Ctrl-C to stop`);
      // Each message is marked printed right after its write; what the last run delivered but never
      // printed comes first, minus what the output file already holds (docs/commands/listen.md).
      let reprint: Array<{ bytes: Buffer; messageIds: readonly string[] }> | undefined = [];
      session.onMessage((message) => {
        if (this.abort.signal.aborted) return;
        const { data } = formatMessage(message, output);
        const messageIds = message.messageIds ?? [message.id];
        if (reprint !== undefined) {
          reprint.push({ bytes: typeof data === "string" ? Buffer.from(data) : data, messageIds });
          return;
        }
        write(data);
        session.markPrinted(messageIds, outputPosition(1));
      });
      session.channel.on("lost", (event) => this.status(`lost ${event.messageIds.length} message(s) that can no longer be recovered (${event.source})`));
      session.channel.on("error", ({ error, during }) => this.status(`error during ${during}: ${error.code}: ${error.message}`));
      if (json) {
        session.channel.on("sent", ({ requestId, messageIds }) => write(`${JSON.stringify({ type: "sent", requestId, messageIds })}\n`));
        session.channel.on("delivered", ({ requestId, messageIds }) => write(`${JSON.stringify({ type: "acknowledged", requestId, messageIds })}\n`));
        session.channel.on("undelivered", ({ requestId, undeliveredMessageIds }) => write(`${JSON.stringify({ type: "undelivered", requestId, messageIds: undeliveredMessageIds })}\n`));
      }
      await session.start({
        beforeLive: () => {
          const entries = reprint ?? [];
          reprint = undefined;
          if (entries.length === 0) return;
          const plan = planReprint(1, session.lastOutput, entries);
          if (plan.write.length > 0) write(Buffer.concat(plan.write));
          session.markPrinted(plan.messageIds, outputPosition(1));
        },
      });
      const tally = await sendAll(session, readMessages(process.stdin, { mode: input }), { batchMessagesMax: 256, inFlightMax: 4096, waitAcks: false, timeoutMs: 0, signal: this.abort.signal });
      if (!flags["exit-on-eof"]) {
        if (tally.sent > 0 || !process.stdin.isTTY) this.detail(`stdin ended after ${tally.sent} messages; still listening`);
        await holdUntil(this.abort.signal);
      }
    } finally {
      process.stdin.destroy();
      await session.close();
    }
    if (this.abort.signal.aborted) throw this.abort.signal.reason;
    return undefined;
  }
}
