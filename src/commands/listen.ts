/**
 * `sds listen NAME`: print the channel's delivered messages in causal order — text lines, NUL
 * records, base64 lines or NDJSON — after catching up on what this identity missed since its
 * last run (persisted SDS state plus the relay store from the saved cursor). `--count`,
 * `--timeout`, `--capture FILE`. A closed stdout (`| head -1`) ends it quietly with status 0.
 * See docs/commands/listen.md.
 */
import { writeSync } from "node:fs";
import * as Args from "@oclif/core/args";
import * as Flags from "@oclif/core/flags";
import { CaptureWriter } from "../app/capture.js";
import { sessionOptionsFromFlags } from "../app/from-flags.js";
import type { ChannelSession } from "../app/session.js";
import { outputPosition, planReprint, printCrashPoint, type PrintCrashPoint } from "../app/printed.js";
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
    const { CLI_SDS_CONFIG, ChannelSession: Session } = await import("../app/session.js");
    const mode: OutputMode = this.jsonEnabled() ? "json" : flags.null ? "nul" : flags.base64 ? "base64" : "text";
    const capture = flags.capture === undefined ? undefined : CaptureWriter.open(flags.capture, { startedAtMs: Date.now(), source: "sds listen", channel: args.name });
    const options = sessionOptionsFromFlags(args.name, flags, this.config.dataDir, {
      receive: true,
      printedMarks: true,
      sdsConfig: { ...CLI_SDS_CONFIG, lostMessageTimeoutMs: flags["lost-after"] * 1000 },
      onStatus: (text) => this.status(text),
      onEnvelope: capture ? (message) => capture.write({ atMs: Date.now(), topic: message.topic, hash: message.hashHex, envelope: encodeForCapture(message.envelope) }) : undefined,
    });
    // The messages of one batched receive are written with one write, then marked printed in
    // one transaction (docs/commands/listen.md, "Crash safety"). What an earlier run delivered but
    // never marked is printed first, minus what the output file already holds.
    const pending: Array<{ data: string | Buffer; messageIds: readonly string[] }> = [];
    let session: ChannelSession | undefined;
    let printed = 0;
    // True while start() re-delivers what the last run never printed (one write, after a look at the output file).
    let reprinting = true;
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const crash = printCrashPoint(process.env);
    let batches = 0;
    const flushOutput = () => {
      if (pending.length === 0) return;
      const entries = pending.splice(0);
      const chunks = entries.map((entry) => entry.data);
      const bytes = chunks.every((chunk) => typeof chunk === "string") ? chunks.join("") : Buffer.concat(chunks.map((chunk) => (typeof chunk === "string" ? Buffer.from(chunk) : chunk)));
      batches += 1;
      if (crash?.batch === batches) crashWhilePrinting(crash.at, bytes);
      process.stdout.write(bytes);
      session?.markPrinted(entries.flatMap((entry) => entry.messageIds), outputPosition(1));
    };
    const flushReprint = () => {
      reprinting = false;
      const entries = pending.splice(0).map((entry) => ({ bytes: typeof entry.data === "string" ? Buffer.from(entry.data) : entry.data, messageIds: entry.messageIds }));
      if (entries.length === 0 || session === undefined) return;
      const plan = planReprint(1, session.lastOutput, entries, flags.count);
      this.status(`printing ${plan.written} message(s) delivered before the last run ended${plan.skipped > 0 ? ` (${plan.skipped} more were already in the output file)` : ""}`);
      if (plan.write.length > 0) process.stdout.write(Buffer.concat(plan.write));
      session.markPrinted(plan.messageIds, outputPosition(1));
      printed = plan.written;
      if (flags.count !== undefined && printed >= flags.count) done();
    };
    let warnedNotText = false;
    session = await Session.open(options);
    try {
      this.status(`listening on ${args.name} as ${options.identity} (${session.participantId}) via ${session.relayUrl ?? "relay"}; Ctrl-C to stop`);
      session.channel.on("dropped", ({ reason, detail }) => this.detail(`dropped (${reason}): ${detail}`));
      session.channel.on("lost", (event) => this.status(`lost ${event.messageIds.length} message(s) that can no longer be recovered (${event.source})`));
      session.channel.on("error", ({ error, during }) => this.status(`error during ${during}: ${error.code}: ${error.message}`));
      session.onMessage((message) => {
        if (this.abort.signal.aborted) return;
        if (reprinting) {
          pending.push({ data: formatMessage(message, mode).data, messageIds: message.messageIds ?? [message.id] });
          return;
        }
        if (flags.count !== undefined && printed >= flags.count) return;
        const { data, notText } = formatMessage(message, mode);
        if (notText && !warnedNotText) {
          warnedNotText = true;
          this.status("a payload is not UTF-8 text: printed as base64 (use --json or --base64 to be explicit)");
        }
        pending.push({ data, messageIds: message.messageIds ?? [message.id] });
        // A microtask queued by the batch's first message runs after the batch's other messages (already queued).
        if (pending.length === 1) queueMicrotask(flushOutput);
        printed += 1;
        if (flags.count !== undefined && printed >= flags.count) done();
      });
      await session.start({ beforeLive: flushReprint });
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

/** Test-only (`SDS_TEST_CRASH_LISTEN`): dies by SIGKILL at `at` while printing `bytes`. */
function crashWhilePrinting(at: PrintCrashPoint["at"], bytes: string | Buffer): void {
  const buffer = typeof bytes === "string" ? Buffer.from(bytes) : bytes;
  if (at === "mid-write") writeSync(1, buffer.subarray(0, Math.max(1, buffer.length >> 1)));
  else if (at === "after-write") writeSync(1, buffer);
  process.kill(process.pid, "SIGKILL");
}
