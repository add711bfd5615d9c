/**
 * The explicit command map oclif loads (package.json `oclif.commands`). Ids are
 * colon-separated internally (`channel:open`); users type spaces.
 */
import Decode from "./commands/decode.js";

export const COMMANDS = {
  decode: Decode,
};
