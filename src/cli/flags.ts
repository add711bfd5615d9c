/**
 * Flags shared by the channel commands (`channel open`, `send`, `listen`, `replay`, `demo`),
 * defined once so their names, environment variables and help text never drift apart.
 * Precedence is oclif's: flag > environment variable > default.
 */
import * as Flags from "@oclif/core/flags";

/** `--as NAME`: the identity, i.e. which databases under the data dir (`<dataDir>/<NAME>/<channel>.db`). */
export const asFlag = Flags.string({
  description: "Identity to act as; its database for channel C is <data dir>/<NAME>/<C>.db (data dir: SDS_DATA_DIR or ~/.local/share/sds).",
  env: "SDS_AS",
  helpGroup: "CHANNEL",
});

/** `--db PATH`: the database file, overriding `--as`. */
export const dbFlag = Flags.string({
  description: "Channel database file (overrides the one chosen by --as).",
  env: "SDS_DB",
  helpGroup: "CHANNEL",
});

/** `--relay URL`: the relay; default is the local one, started in-process if none listens. */
export const relayFlag = Flags.string({
  description: "Relay WebSocket URL (default: the local relay, started in-process if none is listening).",
  env: "SDS_RELAY",
  helpGroup: "CHANNEL",
});

/** `--key`: the channel key for AES-256-GCM (64 hex chars or base64 of 32 bytes). */
export const keyFlag = Flags.string({
  description: "Channel key for AES-256-GCM encryption: 64 hex characters or base64 of 32 bytes (prefer the env var over the command line).",
  env: "SDS_CHANNEL_KEY",
  helpGroup: "CHANNEL",
});

/** `--dialect`: the SDS wire dialect of the channel (default: what it was created with, else `spec`). */
export const dialectFlag = Flags.option({
  description: "SDS wire dialect of the channel (default: the one it was created with, else spec).",
  options: ["spec", "nim"] as const,
  helpGroup: "CHANNEL",
})();

/** The channel flags every channel command takes. */
export const channelFlags = {
  as: asFlag,
  db: dbFlag,
  relay: relayFlag,
  key: keyFlag,
  dialect: dialectFlag,
};

/** `--timeout SECONDS` (0 = none). */
export function timeoutFlag(description: string) {
  return Flags.integer({ description, min: 0, default: 0 });
}

/**
 * oclif short flags must be letters, but `-0` is what websocat, xargs and find users type for
 * NUL-separated records: rewrite a lone `-0` (before any `--`) to `--null`.
 */
export function nulShorthand(argv: readonly string[]): string[] {
  const end = argv.indexOf("--");
  return argv.map((arg, index) => (arg === "-0" && (end === -1 || index < end) ? "--null" : arg));
}
