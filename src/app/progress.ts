/**
 * Progress on stderr, never stdout. On a TTY (and not `--quiet`) it is an ora spinner whose
 * text is updated in place; otherwise it is plain lines, at most one per `lineIntervalMs`, so
 * logs of piped runs stay short; with `--quiet` it is silent. ora is configured explicitly
 * (`isEnabled`, `isSilent`, `discardStdin: false` so Ctrl-C still raises SIGINT while spinning)
 * rather than left to sniff the environment.
 */
import ora, { type Ora } from "ora";

/** How a {@link Progress} renders. */
export type ProgressMode = "spinner" | "lines" | "silent";

/** Options of {@link createProgress}. */
export interface ProgressOptions {
  /** `--quiet` given. */
  quiet: boolean;
  /** Whether stderr is an interactive terminal (spinner allowed). */
  stderrIsTTY: boolean;
  /** Colour decision for stderr. */
  color: boolean;
  /** Minimum time between two plain progress lines, in ms. */
  lineIntervalMs?: number;
  /** Where plain lines go (tests inject a sink). */
  write?: (text: string) => void;
  /** Clock in ms (tests inject one). */
  nowMs?: () => number;
}

/** A progress reporter; every method is safe to call in any mode. */
export interface Progress {
  readonly mode: ProgressMode;
  /** Starts showing `text`. */
  start(text: string): void;
  /** Replaces the current text (throttled in line mode unless `force`). */
  update(text: string, force?: boolean): void;
  /** Prints a permanent status line (above the spinner on a TTY). */
  log(text: string): void;
  /** Stops with a final success line. */
  succeed(text: string): void;
  /** Stops with a final failure line. */
  fail(text: string): void;
  /** Stops and clears, printing nothing. */
  stop(): void;
}

/** Picks spinner, lines or silence from the flags and the terminal. */
export function progressMode(options: Pick<ProgressOptions, "quiet" | "stderrIsTTY">, env: NodeJS.ProcessEnv = process.env): ProgressMode {
  if (options.quiet) return "silent";
  if (!options.stderrIsTTY || env.TERM === "dumb" || (env.CI !== undefined && env.CI !== "" && env.CI !== "false")) return "lines";
  return "spinner";
}

/** Creates the progress reporter for a command. */
export function createProgress(options: ProgressOptions, env: NodeJS.ProcessEnv = process.env): Progress {
  const mode = progressMode(options, env);
  if (mode === "spinner") return spinnerProgress(options.color);
  const write = options.write ?? ((text: string) => void process.stderr.write(text));
  if (mode === "silent") return { mode, start() {}, update() {}, log() {}, succeed() {}, fail() {}, stop() {} };
  return lineProgress(write, options.lineIntervalMs ?? 1000, options.nowMs ?? Date.now);
}

function lineProgress(write: (text: string) => void, intervalMs: number, nowMs: () => number): Progress {
  let lastMs = -Infinity;
  let last = "";
  const line = (text: string) => write(text.endsWith("\n") ? text : `${text}\n`);
  return {
    mode: "lines",
    start(text) {
      lastMs = nowMs();
      last = text;
      line(text);
    },
    update(text, force = false) {
      const now = nowMs();
      if (!force && (now - lastMs < intervalMs || text === last)) return;
      lastMs = now;
      last = text;
      line(text);
    },
    log: line,
    succeed: line,
    fail: line,
    stop() {},
  };
}

function spinnerProgress(color: boolean): Progress {
  const spinner: Ora = ora({ stream: process.stderr, isEnabled: true, isSilent: false, discardStdin: false, color: color ? "cyan" : false });
  return {
    mode: "spinner",
    start(text) {
      spinner.start(text);
    },
    update(text) {
      spinner.text = text;
    },
    log(text) {
      const spinning = spinner.isSpinning;
      if (spinning) spinner.clear();
      process.stderr.write(text.endsWith("\n") ? text : `${text}\n`);
      if (spinning) spinner.render();
    },
    succeed(text) {
      spinner.succeed(text);
    },
    fail(text) {
      spinner.fail(text);
    },
    stop() {
      spinner.stop();
    },
  };
}
