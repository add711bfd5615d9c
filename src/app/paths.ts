/**
 * Where an identity's channel database lives: `<dataDir>/<identity>/<channel>.db`, one SQLite
 * file per identity AND channel. One file per channel (not one per identity) because the
 * ReliabilityManager ticks every channel of its store: a `listen` on one channel would
 * otherwise run (and count) resends of every other channel it cannot publish, and two
 * commands of one identity on two channels would lock each other out. `--db PATH` names the
 * file directly (it may then hold several channels; only the named one is used). The data dir is `SDS_DATA_DIR` if set, else oclif's `config.dataDir`
 * (`$XDG_DATA_HOME/sds` or `~/.local/share/sds`). Names are validated so that an identity can
 * never escape the data dir (`--as ../x` is a usage error).
 */
import { mkdirSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { SdsError } from "../core/errors.js";

/** Identity used when `--as` is not given. */
export const DEFAULT_IDENTITY = "default";

/** Longest identity or channel name accepted, in characters. */
export const NAME_CHARS_MAX = 64;

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Checks an identity or channel name: 1–64 characters of `A-Z a-z 0-9 . _ -`, not starting
 * with `.`, `_` or `-`. Throws `E_USAGE` (exit 2) otherwise.
 */
export function validateName(kind: "identity" | "channel", name: string): string {
  if (name.length === 0 || name.length > NAME_CHARS_MAX || !NAME_PATTERN.test(name)) {
    throw new SdsError("E_USAGE", `invalid ${kind} name ${JSON.stringify(name)}: use 1-${NAME_CHARS_MAX} letters, digits, '.', '_' or '-', starting with a letter or digit`, { kind, name });
  }
  return name;
}

/** Inputs of {@link resolveDataDir}, injectable for tests. */
export interface DataDirInputs {
  env: NodeJS.ProcessEnv;
  /** oclif's `this.config.dataDir`. */
  configDataDir: string;
}

/** The data directory: `SDS_DATA_DIR` (non-empty) wins over oclif's data dir. */
export function resolveDataDir({ env, configDataDir }: DataDirInputs): string {
  const fromEnv = env.SDS_DATA_DIR;
  return resolve(fromEnv !== undefined && fromEnv !== "" ? fromEnv : configDataDir);
}

/** Which database a command uses, and under which identity. */
export interface IdentityLocation {
  /** Identity name; also the default SDS sender id prefix. */
  identity: string;
  /** Absolute path of the SQLite file. */
  dbPath: string;
}

/**
 * Resolves `--as` / `--db` into a database path. `--db` wins for the file; the identity is
 * then `--as` if given, else the file's base name (so `--db ./bob.db` acts as `bob`).
 * Creates the identity's directory (not the file) when the path is inside the data dir.
 */
export function resolveIdentity(options: { as?: string; db?: string; dataDir: string; channel?: string }): IdentityLocation {
  if (options.db !== undefined && options.db !== "") {
    const dbPath = isAbsolute(options.db) ? options.db : resolve(options.db);
    const base = dbPath.replace(/^.*[\\/]/, "").replace(/\.db$/, "");
    const identity = options.as !== undefined ? validateName("identity", options.as) : NAME_PATTERN.test(base) && base.length <= NAME_CHARS_MAX ? base : DEFAULT_IDENTITY;
    return { identity, dbPath };
  }
  const identity = validateName("identity", options.as ?? DEFAULT_IDENTITY);
  if (options.channel === undefined) {
    // No channel: the identity's directory-less legacy file (kept for callers that have no channel).
    mkdirSync(options.dataDir, { recursive: true });
    return { identity, dbPath: join(options.dataDir, `${identity}.db`) };
  }
  const channel = validateName("channel", options.channel);
  const directory = join(options.dataDir, identity);
  mkdirSync(directory, { recursive: true });
  return { identity, dbPath: join(directory, `${channel}.db`) };
}
