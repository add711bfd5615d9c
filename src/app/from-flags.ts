/**
 * Turns the shared channel flags (`--as`, `--db`, `--relay`, `--key`, `--dialect`) and the
 * channel argument into {@link SessionOptions}, so every channel command resolves identities,
 * data dirs and relays the same way.
 */
import type { DialectName } from "../core/protocol/types.js";
import { resolveDataDir, resolveIdentity, validateName } from "./paths.js";
import type { SessionOptions } from "./session.js";

/** The shared channel flags as parsed by oclif. */
export interface ChannelFlagValues {
  as?: string;
  db?: string;
  relay?: string;
  key?: string;
  dialect?: string;
}

/** Session options for `channel` from the flags; `configDataDir` is oclif's `this.config.dataDir`. */
export function sessionOptionsFromFlags(channel: string, flags: ChannelFlagValues, configDataDir: string, extra: Pick<SessionOptions, "receive"> & Partial<SessionOptions>): SessionOptions {
  validateName("channel", channel);
  const location = resolveIdentity({ as: flags.as, db: flags.db, channel, dataDir: resolveDataDir({ env: process.env, configDataDir }) });
  return {
    channel,
    identity: location.identity,
    dbPath: location.dbPath,
    relayUrl: flags.relay,
    key: flags.key,
    dialect: flags.dialect as DialectName | undefined,
    ...extra,
  };
}
