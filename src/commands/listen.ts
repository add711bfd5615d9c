/**
 * `sds listen NAME`: print the channel's delivered messages in causal order — text lines, NUL
 * records, base64 lines or NDJSON — after catching up on what this identity missed since its
 * last run (persisted SDS state plus the relay store from the saved cursor). `--count`,
 * `--timeout`, `--capture FILE`. A closed stdout (`| head -1`) ends it quietly with status 0.
 * See docs/commands/listen.md.
 */
import * as Args from "@oclif/core/args";
import * as Flags from "@oclif/core/flags";
import { CaptureWriter } from "../app/capture.js";
import { sessionOptionsFromFlags } from "../app/from-flags.js";
import { type OutputMode, formatMessage } from "../app/render.js";
import { holdUntil, sleep } from "../app/send-loop.js";
// Heavy modules (ws, better-sqlite3, ora, cli-table3) load in run(): the command map imports
// every command module, so their top-level imports are start-up time of every command.
import { BaseCommand } from "../cli/base-command.js";
import { channelFlags, nulShorthand } from "../cli/flags.js";
import { SdsError } from "../core/errors.js";
// Capture files keep each envelope as encoded on the wire.
import { encodeEnvelope as encodeForCapture } from "../core/relay/envelope.js";

export default class Listen extends BaseCommand<typeof Listen> {
  static override summary = "Print a channel's delivered messages in causal order, catching up on what was missed since the last run.";
  static override examples = [
    "<%= config.bin %> listen demo --as bob",
    "<%= config.bin %> listen demo --json | jq -r .payload",
    "<%= config.bin %> listen demo --count 10 --timeout 30",
    "<%= config.bin %> listen demo --capture traffic.ndjson",
  ];
  static override enableJsonFlag = true;
  static override args = { name: Args.string({ required: true, description: "channel name" }) };
  static override flags = {
    ...channelFlags,
    null: Flags.boolean({ description: "Print each payload raw, NUL-terminated (also -0).", exclusive: ["base64"] }),
    base64: Flags.boolean({ description: "Print each payload as one base64 line.", exclusive: ["null"] }),
    count: Flags.integer({ description: "Exit 0 after this many messages.", min: 1 }),
    timeout: Flags.integer({ description: "Stop after this many seconds (exit 0; exit 4 if --count was not reached).", min: 1 }),
    "lost-after": Flags.integer({ description: "Give up on a missing message after this many seconds and deliver what waited on it (reported as lost).", min: 1, default: 60 }),
    capture: Flags.string({ description: "Also write every envelope received to this capture file (NDJSON, for replay/decode)." }),
  };

  public override async init(): Promise<void> {
    this.argv = nulShorthand(this.argv);
    await super.init();
  }

  public async run(): Promise<undefined> {
    const { flags, args } = this;
    const { CLI_SDS_CONFIG, ChannelSession } = await import("../app/session.js");
    const mode: OutputMode = this.jsonEnabled() ? "json" : flags.null ? "nul" : flags.base64 ? "base64" : "text";
    const capture = flags.capture === undefined ? undefined : CaptureWriter.open(flags.capture, { startedAtMs: Date.now(), source: "sds listen", channel: args.name });
    const options = sessionOptionsFromFlags(args.name, flags, this.config.dataDir, {
      receive: true,
      sdsConfig: { ...CLI_SDS_CONFIG, lostMessageTimeoutMs: flags["lost-after"] * 1000 },
      onStatus: (text) => this.status(text),
      onEnvelope: capture ? (message) => capture.write({ atMs: Date.now(), topic: message.topic, hash: message.hashHex, envelope: encodeForCapture(message.envelope) }) : undefined,
    });
    // The messages of one batched receive (one commit) are written with one write: a process
    // killed right after a commit then has printed all of that commit's messages or none, not
    // the first few (the next run would not print the rest again: they are delivered).
    const output: Array<string | Buffer> = [];
    const flushOutput = () => {
      if (output.length === 0) return;
      const chunks = output.splice(0);
      process.stdout.write(chunks.every((chunk) => typeof chunk === "string") ? chunks.join("") : Buffer.concat(chunks.map((chunk) => (typeof chunk === "string" ? Buffer.from(chunk) : chunk))));
    };
    let printed = 0;
    let warnedNotText = false;
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const session = await ChannelSession.open(options);
    try {
      this.status(`listening on ${args.name} as ${options.identity} (${session.participantId}) via ${session.relayUrl ?? "relay"}; Ctrl-C to stop`);
      session.channel.on("dropped", ({ reason, detail }) => this.detail(`dropped (${reason}): ${detail}`));
      session.channel.on("lost", (event) => this.status(`lost ${event.messageIds.length} message(s) that can no longer be recovered (${event.source})`));
      session.channel.on("error", ({ error, during }) => this.status(`error during ${during}: ${error.code}: ${error.message}`));
      session.onMessage((message) => {
        if (this.abort.signal.aborted || (flags.count !== undefined && printed >= flags.count)) return;
        const { data, notText } = formatMessage(message, mode);
        if (notText && !warnedNotText) {
          warnedNotText = true;
          this.status("a payload is not UTF-8 text: printed as base64 (use --json or --base64 to be explicit)");
        }
        output.push(data);
        // A microtask queued by the batch's first message runs after the batch's other messages (already queued).
        if (output.length === 1) queueMicrotask(flushOutput);
        printed += 1;
        if (flags.count !== undefined && printed >= flags.count) done();
      });
      // --verbose: where the receive path stands every 5 s (envelopes in, delivered, waiting on gaps, store fetches).
      const progressTimer = setInterval(() => {
        const c = session.channel.counters;
        const s = session.counters;
        this.detail(`progress: ${c.envelopesReceived} envelopes received, ${printed} printed, ${s.delivered} delivered, ${s.duplicates} duplicates, ${s.missing} missing reported, ${s.lost} lost, ${c.fetchRequests} store fetches (${c.fetchedEnvelopes} envelopes), ${c.errors} errors, ${s.receiveCalls} engine receives (${s.receivedWires} envelopes)`);
      }, 5000);
      progressTimer.unref();
      this.abort.signal.addEventListener("abort", () => clearInterval(progressTimer), { once: true });
      void finished.then(() => clearInterval(progressTimer));
      const waits: Promise<unknown>[] = [finished];
      if (flags.timeout !== undefined) waits.push(sleep(flags.timeout * 1000));
      await holdUntil(this.abort.signal, Promise.race(waits));
    } finally {
      flushOutput();
      await session.close();
      await capture?.close();
    }
    if (this.abort.signal.aborted) throw this.abort.signal.reason;
    if (flags.count !== undefined && printed < flags.count) {
      throw new SdsError("E_TIMEOUT", `${printed} of ${flags.count} messages arrived within ${flags.timeout} s`, { printed, count: flags.count });
    }
    if (capture) this.status(`captured ${capture.count} envelopes to ${flags.capture}`);
    return undefined;
  }
}
