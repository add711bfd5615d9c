/**
 * The explicit command map oclif loads (package.json `oclif.commands`). Ids are
 * colon-separated internally (`channel:open`); users type spaces.
 *
 * Start-up (issue 7): oclif imports this whole map to run any one command, so a command module
 * must stay light at import time: ws, better-sqlite3, ora, cli-table3, the engine and the store
 * load inside run() (`await import`); test/commands/startup.test.ts checks it. --version and
 * --help read oclif.manifest.json instead (written by `npm run build`, scripts/manifest.js).
 */
import ChannelOpen from "./commands/channel/open.js";
import Decode from "./commands/decode.js";
import Demo from "./commands/demo.js";
import InspectDb from "./commands/inspect-db.js";
import Listen from "./commands/listen.js";
import Relay from "./commands/relay.js";
import Replay from "./commands/replay.js";
import Send from "./commands/send.js";

export const COMMANDS = {
  "channel:open": ChannelOpen,
  decode: Decode,
  demo: Demo,
  "inspect-db": InspectDb,
  listen: Listen,
  relay: Relay,
  replay: Replay,
  send: Send,
};
