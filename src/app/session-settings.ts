/**
 * The per-channel settings a session keeps in the identity's database (rows of `sdstk.settings`):
 * the participant id chosen on first use, the dialect the channel was created with (a later run
 * may not change it), and the relay cursor the next run catches up from.
 */
import { randomBytes } from "node:crypto";
import { SdsError } from "../core/errors.js";
import type { DialectName } from "../core/protocol/types.js";
import type { SqlitePersistence } from "../core/store/sqlite.js";
import { TRACKING_SETTING } from "./printed.js";

/** Setting holding the last relay time (ns) the session saw, as decimal text. */
export const CURSOR_SETTING = "relayCursorNs";
const PARTICIPANT_SETTING = "participantId";
const DIALECT_SETTING = "dialect";
const textEncoder = new TextEncoder();

function storeOrThrow<T>(result: { ok: true; value: T } | { ok: false; error: SdsError }): T {
  if (!result.ok) throw result.error;
  return result.value;
}

/**
 * Reads (and on first use writes) a channel's settings.
 * @throws SdsError `E_CONFIG_INVALID` when `dialect` differs from the channel's; StoreError when the store fails.
 */
export function readChannelSettings(store: SqlitePersistence, options: { channel: string; identity: string; dialect?: DialectName }): { participantId: string; dialect: DialectName; cursorNs: bigint | undefined } {
  const decoder = new TextDecoder();
  const storedParticipant = storeOrThrow(store.getChannelSetting(options.channel, PARTICIPANT_SETTING));
  const storedDialect = storeOrThrow(store.getChannelSetting(options.channel, DIALECT_SETTING));
  const storedCursor = storeOrThrow(store.getChannelSetting(options.channel, CURSOR_SETTING));
  const previousDialect = storedDialect === undefined ? undefined : (decoder.decode(storedDialect) as DialectName);
  if (previousDialect !== undefined && options.dialect !== undefined && previousDialect !== options.dialect) {
    throw new SdsError("E_CONFIG_INVALID", `channel ${options.channel} was created with dialect ${previousDialect}, not ${options.dialect}`, { channel: options.channel, dialect: previousDialect });
  }
  const dialect = previousDialect ?? options.dialect ?? "spec";
  let participantId = storedParticipant === undefined ? undefined : decoder.decode(storedParticipant);
  if (participantId === undefined) {
    participantId = `${options.identity}-${randomBytes(3).toString("hex")}`;
    // A new channel keeps printed marks from its first message, whichever command opens it first.
    storeOrThrow(store.putChannelSettings(options.channel, [[PARTICIPANT_SETTING, textEncoder.encode(participantId)], [TRACKING_SETTING, textEncoder.encode("1")]]));
  }
  if (previousDialect === undefined) storeOrThrow(store.putChannelSetting(options.channel, DIALECT_SETTING, textEncoder.encode(dialect)));
  const cursorText = storedCursor === undefined ? undefined : decoder.decode(storedCursor);
  const cursorNs = cursorText !== undefined && /^\d+$/.test(cursorText) ? BigInt(cursorText) : undefined;
  return { participantId, dialect, cursorNs };
}
