/**
 * The zero-set-up relay: commands given no relay connect to the default local relay
 * (`SDS_RELAY`, else ws://127.0.0.1:7645) and, if nothing listens there, start one in-process.
 * The in-process relay never keeps the process alive (its listening socket and connections are
 * unref'd) and the caller closes it explicitly when the command ends. Two processes racing to
 * start one resolve by connecting to whichever bound the port first.
 */
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

/** A connected client and, when this process started it, the in-process relay. */
export interface LocalRelay {
  client: RelayClient;
  url: string;
  /** Set when the relay runs in this process. */
  server: RelayServer | undefined;
  /** Closes the client, then the in-process relay if any. */
  close(): Promise<void>;
}

/** Options of {@link ensureLocalRelay}. */
export interface EnsureLocalRelayOptions {
  host?: string;
  port?: number;
  client?: RelayClientOptions;
  server?: Omit<RelayServerOptions, "host" | "port" | "unref">;
}

function isUnavailable(error: unknown): boolean {
  return (error as { code?: string }).code === "E_RELAY_UNAVAILABLE";
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
  try {
    const client = await RelayClient.connect(url, options.client);
    return { client, url, server: undefined, close: () => client.close() };
  } catch (error) {
    if (!isUnavailable(error)) throw error;
  }
  const server = new RelayServer({ ...options.server, host, port, unref: true });
  let started: { url: string } | undefined;
  try {
    started = await server.start();
  } catch (error) {
    await server.close();
    if (!isUnavailable(error)) throw error;
    // Someone else bound the port between our probe and our listen: use theirs.
    const client = await RelayClient.connect(url, { ...options.client, connectAttemptsMax: 5 });
    return { client, url, server: undefined, close: () => client.close() };
  }
  const client = await RelayClient.connect(started.url, options.client);
  return {
    client,
    url: started.url,
    server,
    close: async () => {
      await client.close();
      await server.close();
    },
  };
}
