/**
 * The zero-set-up relay: commands given no relay connect to the default local relay
 * (`SDS_RELAY`, else ws://127.0.0.1:7645) and, if nothing listens there, start one in-process.
 * The in-process relay never keeps the process alive (its listening socket and connections are
 * unref'd); the caller closes it explicitly when the command ends. If the process that hosted the
 * relay exits, the others' clients take over: before each reconnect attempt they try to start a
 * relay on the same address (its store starts empty). Races resolve by whoever binds first.
 */
import { RelayError } from "../errors.js";
import { RelayClient, type RelayClientOptions } from "./client.js";
import { DEFAULT_RELAY_PORT, RelayServer, type RelayServerOptions } from "./server.js";

/** Environment variable naming the relay URL commands use by default. */
export const RELAY_URL_ENV = "SDS_RELAY";
/** The default local relay URL. */
export const DEFAULT_RELAY_URL = `ws://127.0.0.1:${DEFAULT_RELAY_PORT}`;

/** The URL commands use when no `--relay` is given: `SDS_RELAY` or the default. */
export function defaultRelayUrl(env: NodeJS.ProcessEnv = process.env): string {
  const value = env[RELAY_URL_ENV];
  return value !== undefined && value.trim() !== "" ? value.trim() : DEFAULT_RELAY_URL;
}

/** A connected client and, while this process hosts it, the in-process relay. */
export interface LocalRelay {
  client: RelayClient;
  url: string;
  /** The relay running in this process, if any (it may start later, on take-over). */
  readonly server: RelayServer | undefined;
  /** Closes the client, then the in-process relay if any. */
  close(): Promise<void>;
}

/** Options of {@link ensureLocalRelay}. */
export interface EnsureLocalRelayOptions {
  host?: string;
  port?: number;
  client?: Omit<RelayClientOptions, "beforeReconnect">;
  server?: Omit<RelayServerOptions, "host" | "port" | "unref">;
  /** Start a relay in-process when the local one disappears later (default true). */
  takeOver?: boolean;
}

/**
 * Connects to the local relay at `host:port` (default 127.0.0.1:7645), starting one in-process
 * when none answers.
 * @throws RelayError `E_RELAY_UNAVAILABLE` when neither connecting nor starting works.
 */
export async function ensureLocalRelay(options: EnsureLocalRelayOptions = {}): Promise<LocalRelay> {
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? DEFAULT_RELAY_PORT;
  const url = `ws://${host.includes(":") ? `[${host}]` : host}:${port}`;
  let server: RelayServer | undefined;
  let closing = false;

  /** Tries to host the relay here; false when someone else holds the port. */
  const tryHost = async (): Promise<boolean> => {
    if (server !== undefined || closing) return server !== undefined;
    const candidate = new RelayServer({ ...options.server, host, port, unref: true });
    try {
      await candidate.start();
      server = candidate;
      return true;
    } catch (error) {
      await candidate.close();
      if (error instanceof RelayError && error.code === "E_RELAY_UNAVAILABLE") return false;
      throw error;
    }
  };
  const clientOptions: RelayClientOptions = { ...options.client, beforeReconnect: options.takeOver === false ? undefined : async () => void (await tryHost()) };

  let client: RelayClient;
  try {
    client = await RelayClient.connect(url, clientOptions);
  } catch (error) {
    if (!(error instanceof RelayError && error.code === "E_RELAY_UNAVAILABLE")) throw error;
    const hosted = await tryHost();
    // Not hosted: someone bound the port between our probe and our listen, so use theirs.
    client = await RelayClient.connect(url, hosted ? clientOptions : { ...clientOptions, connectAttemptsMax: 5 });
  }
  return {
    client,
    url,
    get server() {
      return server;
    },
    close: async () => {
      closing = true;
      await client.close();
      await server?.close();
    },
  };
}
