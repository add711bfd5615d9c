/**
 * `sds relay`: serve a relay (docs/commands/relay.md, protocol in docs/relay-protocol.md).
 * The first stdout line is the URL it listens on (or, with `--json`, a `ready` record), so a
 * script can start it on port 0 and read where it went; everything else goes to stderr. It runs
 * until SIGINT/SIGTERM, then closes every connection with 1001, flushes the store and exits
 * with 130 (SIGINT) or 143 (SIGTERM), the project's signal statuses.
 */
import * as Flags from "@oclif/core/flags";
import { SdsError } from "../core/errors.js";
import { DEFAULT_PUBSUB_TOPIC } from "../core/relay/envelope.js";
import { DEFAULT_FRAME_LIMITS } from "../core/relay/protocol.js";
// Type-only: the server (and with it ws and better-sqlite3) is imported in run(), so that
// loading this module with the command map costs no start-up time for the other commands.
import type { RelayServerEvent, RelayServerOptions } from "../core/relay/server.js";
import { BaseCommand, ExitWith } from "../cli/base-command.js";
import { EXIT } from "../cli/exit-codes.js";

function rate(value: string, name: string): number {
  const parsed = Number(value);
  if (!(parsed >= 0 && parsed <= 1)) throw new SdsError("E_USAGE", `--${name} must be a number in [0, 1], got ${value}`);
  return parsed;
}

function describeEvent(event: RelayServerEvent): string {
  switch (event.type) {
    case "open":
      return `#${event.connection} connected from ${event.remote}`;
    case "close":
      return `#${event.connection} closed (${event.code})`;
    case "slowConsumer":
      return `#${event.connection} cut off as a slow consumer (${event.bufferedBytes} bytes queued)`;
    case "protocolError":
      return `#${event.connection} protocol error ${event.code}`;
  }
}

/**
 * The default port, the same as `DEFAULT_RELAY_PORT` of core/relay/server.ts (a test checks they
 * agree); repeated here because that module loads ws at import time.
 */
export const RELAY_COMMAND_PORT_DEFAULT = 7645;

export default class Relay extends BaseCommand<typeof Relay> {
  static override summary = "Serve a relay: WebSocket pub/sub with publish acks and a bounded store.";
  static override description = `Listens for WebSocket clients (sds commands, or any client of docs/relay-protocol.md) on HOST:PORT.
The first line on stdout is the URL it listens on (ws://HOST:PORT); with --json a "ready" record instead. Status goes to stderr.
Runs until Ctrl-C (exit 130) or SIGTERM (exit 143); connections are closed with 1001 "relay shutting down" first.
Other sds commands use ws://127.0.0.1:${RELAY_COMMAND_PORT_DEFAULT} (or $SDS_RELAY) by default.`;

  static override examples = [
    "<%= config.bin %> relay",
    "<%= config.bin %> relay --port 0 --store-file relay.db",
    'coproc <%= config.bin %> relay --port 0; read -r url <&"${COPROC[0]}"; echo "$url"',
    "<%= config.bin %> relay --json --max-payload 262144 --rate-limit 200",
  ];

  static override enableJsonFlag = true;

  static override flags = {
    host: Flags.string({ description: "Interface to listen on.", default: "127.0.0.1" }),
    port: Flags.integer({ char: "p", description: "TCP port; 0 picks a free one.", default: RELAY_COMMAND_PORT_DEFAULT, min: 0, max: 65535 }),
    "store-size": Flags.integer({ description: "Envelopes kept per topic for store queries (0 = no store).", default: 10_000, min: 0 }),
    "store-bytes": Flags.integer({ description: "Envelope bytes kept per topic.", default: 64 * 1024 * 1024, min: 1 }),
    "store-file": Flags.string({ description: "SQLite file that keeps the store across restarts (default: memory only)." }),
    "max-payload": Flags.integer({ description: "Largest WebSocket frame accepted, in bytes (bigger ones close the connection with 1009).", default: DEFAULT_FRAME_LIMITS.frameBytesMax, min: 1024 }),
    "send-queue-bytes": Flags.integer({ description: "Bytes queued to one client before it is cut off as a slow consumer.", default: 8 * 1024 * 1024, min: 1024 }),
    "rate-limit": Flags.integer({ description: "Publishes + store queries per second per connection (burst twice that); 0 = unlimited.", default: 10_000, min: 0 }),
    "max-topics": Flags.integer({ description: "Distinct topics stored or subscribed.", default: 1000, min: 1 }),
    "max-subscribers": Flags.integer({ description: "Subscribers per topic.", default: 1000, min: 1 }),
    "max-connections": Flags.integer({ description: "Concurrent connections.", default: 1000, min: 1 }),
    "pubsub-topic": Flags.string({ description: "Pubsub topic the message hashes are computed with.", default: DEFAULT_PUBSUB_TOPIC }),
    "drop-rate": Flags.string({ description: "TEST ONLY: probability of dropping each live delivery.", hidden: true, default: "0" }),
    "duplicate-rate": Flags.string({ description: "TEST ONLY: probability of duplicating each live delivery.", hidden: true, default: "0" }),
    "fault-seed": Flags.integer({ description: "TEST ONLY: PRNG seed of the fault mode.", hidden: true, default: 1 }),
  };

  public async run(): Promise<void> {
    const options = this.serverOptions();
    const { RelayServer } = await import("../core/relay/server.js");
    const server = new RelayServer(options);
    const { url, host, port } = await server.start();
    if (this.jsonMode) this.ndjson({ type: "ready", url, host, port, pubsubTopic: server.pubsubTopic, pid: process.pid });
    else this.out(url);
    this.status(`relay listening on ${url} (pubsub topic ${server.pubsubTopic}${this.flags["store-file"] ? `, store ${this.flags["store-file"]}` : ""}); Ctrl-C to stop`);
    const faults = options.faults;
    if (faults) this.status(`TEST fault mode: drop ${faults.dropRate}, duplicate ${faults.duplicateRate}, seed ${faults.seed}`);
    await new Promise<void>((resolve) => {
      if (this.abort.signal.aborted) return resolve();
      this.abort.signal.addEventListener("abort", () => resolve(), { once: true });
    });
    await server.close();
    const stats = server.stats();
    if (this.jsonMode) this.ndjson({ type: "stopped", ...stats });
    this.status(`relay stopped: ${stats.connectionsTotal} connections, ${stats.published} published, ${stats.delivered} delivered, ${stats.slowConsumers} slow consumers cut off, ${stats.storedMessages} stored`);
    const reason = this.abort.signal.reason;
    throw reason instanceof ExitWith ? reason : new ExitWith(EXIT.ok);
  }

  private serverOptions(): RelayServerOptions {
    const flags = this.flags;
    const dropRate = rate(flags["drop-rate"], "drop-rate");
    const duplicateRate = rate(flags["duplicate-rate"], "duplicate-rate");
    if (flags["send-queue-bytes"] < flags["max-payload"]) throw new SdsError("E_USAGE", "--send-queue-bytes must be at least --max-payload");
    return {
      host: flags.host,
      port: flags.port,
      pubsubTopic: flags["pubsub-topic"],
      frameBytesMax: flags["max-payload"],
      sendQueueBytesMax: flags["send-queue-bytes"],
      ratePerSecond: flags["rate-limit"] === 0 ? Infinity : flags["rate-limit"],
      topicsMax: flags["max-topics"],
      subscribersPerTopicMax: flags["max-subscribers"],
      connectionsMax: flags["max-connections"],
      storeEntriesPerTopic: flags["store-size"],
      storeBytesPerTopic: flags["store-bytes"],
      storeFile: flags["store-file"],
      faults: dropRate > 0 || duplicateRate > 0 ? { dropRate, duplicateRate, seed: flags["fault-seed"] } : undefined,
      onEvent: flags.verbose ? (event) => this.detail(describeEvent(event)) : undefined,
    };
  }
}
