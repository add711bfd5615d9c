/**
 * The base of every `sds` command: shared flags, one colour decision, stdout for data only,
 * stderr for status, signal handling, and the mapping from typed errors to exit codes
 * (see `exit-codes.ts` and docs/cli.md).
 *
 * Subclasses implement `run()`; they read `this.flags` / `this.args`, write data through
 * `this.out` / `this.ndjson`, status through `this.status`, and throw `SdsError`s.
 */
import type { Interfaces } from "@oclif/core";
import { Command } from "@oclif/core/command";
import * as Flags from "@oclif/core/flags";
import { isSdsError, SdsError } from "../core/errors.js";
import { type Palette, palette, useColor } from "./color.js";
import { EXIT, exitCodeFor } from "./exit-codes.js";

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)["baseFlags"] & T["flags"]>;
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T["args"]>;

/** Thrown inside a command to stop with a given status after output was already written. */
export class ExitWith extends Error {
  constructor(readonly status: number) {
    super(`exit ${status}`);
  }
}

export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override baseFlags = {
    quiet: Flags.boolean({ char: "q", description: "Print only data; no status on stderr.", helpGroup: "GLOBAL" }),
    verbose: Flags.boolean({ char: "v", description: "Print more status detail on stderr.", helpGroup: "GLOBAL" }),
    color: Flags.boolean({ description: "Colour output (also off with NO_COLOR or when not a TTY).", allowNo: true, default: true, helpGroup: "GLOBAL" }),
  };

  protected flags!: BaseFlags<T>;
  protected args!: BaseArgs<T>;
  /** Colours for stdout (data) and stderr (status), decided once. */
  protected colors!: { out: Palette; err: Palette };
  /** Aborted on the first SIGINT/SIGTERM; long-running commands stop cleanly on it. */
  protected readonly abort = new AbortController();
  private signalCount = 0;
  private readonly onSignal = (signal: NodeJS.Signals) => this.handleSignal(signal);

  public override async init(): Promise<void> {
    await super.init();
    const { args, flags } = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (this.ctor as typeof BaseCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      args: this.ctor.args,
      strict: this.ctor.strict,
    });
    this.flags = flags as BaseFlags<T>;
    this.args = args as BaseArgs<T>;
    const flag = (flags as { color?: boolean }).color !== false;
    this.colors = {
      out: palette(useColor({ isTTY: Boolean(process.stdout.isTTY), env: process.env, flag })),
      err: palette(useColor({ isTTY: Boolean(process.stderr.isTTY), env: process.env, flag })),
    };
    process.on("SIGINT", this.onSignal);
    process.on("SIGTERM", this.onSignal);
    // `sds listen | head -1`: a closed stdout ends the command quietly, not with a stack trace.
    process.stdout.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE") this.abort.abort(new ExitWith(EXIT.ok));
    });
  }

  /** First signal: abort cleanly. Second: force exit with the signal's status. */
  private handleSignal(signal: NodeJS.Signals): void {
    this.signalCount += 1;
    const status = signal === "SIGINT" ? EXIT.sigint : EXIT.sigterm;
    if (this.signalCount > 1) process.exit(status);
    if (!(this.flags as { quiet?: boolean }).quiet) process.stderr.write(`\n${signal} received, stopping (again to force)\n`);
    this.abort.abort(new ExitWith(status));
  }

  /** Writes data to stdout (never status). */
  protected out(text: string): void {
    process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  }

  /** Writes one NDJSON record to stdout. */
  protected ndjson(value: unknown): void {
    process.stdout.write(`${JSON.stringify(value, jsonReplacer)}\n`);
  }

  /** Writes a status line to stderr unless `--quiet`. */
  protected status(text: string): void {
    if ((this.flags as { quiet?: boolean }).quiet) return;
    process.stderr.write(text.endsWith("\n") ? text : `${text}\n`);
  }

  /** Writes a detail line to stderr only with `--verbose`. */
  protected detail(text: string): void {
    if ((this.flags as { verbose?: boolean }).verbose) this.status(text);
  }

  /** Whether `--json` is in force (for commands with `enableJsonFlag`). */
  protected get jsonMode(): boolean {
    return this.jsonEnabled();
  }

  protected override async finally(error: Error | undefined): Promise<void> {
    process.off("SIGINT", this.onSignal);
    process.off("SIGTERM", this.onSignal);
    return super.finally(error);
  }

  /** Errors become one line on stderr (or a small JSON document) and a documented status. */
  protected override async catch(error: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    if (error instanceof ExitWith) {
      process.exitCode = error.status;
      return undefined;
    }
    const reason = this.abort.signal.reason;
    if (reason instanceof ExitWith && !isSdsError(error)) {
      process.exitCode = reason.status;
      return undefined;
    }
    if (!isSdsError(error)) {
      // oclif's own errors (parse errors, this.error) keep their status; anything else is a bug.
      if (error.oclif?.exit !== undefined || error.exitCode !== undefined) {
        process.exitCode = error.oclif?.exit ?? error.exitCode ?? EXIT.internal;
        if (this.jsonEnabled()) {
          this.writeJsonError("E_USAGE", error.message, process.exitCode);
          return undefined;
        }
        throw error;
      }
    }
    const status = exitCodeFor(error);
    const code = isSdsError(error) ? error.code : "E_INTERNAL";
    if (this.jsonEnabled()) {
      this.writeJsonError(code, error.message, status, isSdsError(error) ? error.details : undefined);
    } else {
      const p = this.colors?.err ?? palette(false);
      process.stderr.write(`${p.red("error")} ${code}: ${error.message}\n`);
      if (!isSdsError(error) && (this.flags as { verbose?: boolean } | undefined)?.verbose) process.stderr.write(`${error.stack ?? ""}\n`);
    }
    process.exitCode = status;
    return undefined;
  }

  /** `--json` errors: a small document, never oclif's parse context. */
  protected override toErrorJson(error: unknown): unknown {
    const code = error instanceof SdsError ? error.code : "E_INTERNAL";
    return { error: { code, message: error instanceof Error ? error.message : String(error), exit: exitCodeFor(error) } };
  }

  private writeJsonError(code: string, message: string, exit: number, details?: Readonly<Record<string, unknown>>): void {
    process.stdout.write(`${JSON.stringify({ error: { code, message, exit, ...(details ? { details } : {}) } }, jsonReplacer)}\n`);
  }
}

/** JSON replacer that writes bigints as decimal strings and bytes as hex. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString("hex");
  return value;
}
