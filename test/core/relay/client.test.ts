import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { RelayError } from "../../../src/core/errors.js";
import { RelayClient, type RelayClientEvent, type RelayClientOptions } from "../../../src/core/relay/client.js";
import { messageHash, toHex, type WakuEnvelope } from "../../../src/core/relay/envelope.js";
import { ensureLocalRelay, type LocalRelay } from "../../../src/core/relay/local.js";
import { isLoopbackUrl } from "../../../src/core/relay/masking.js";
import { RelayServer, type RelayServerOptions } from "../../../src/core/relay/server.js";
import type { ReceivedEnvelope } from "../../../src/core/relay/transport.js";
import { until } from "./helpers.js";

const TOPIC = "/sds/1/demo/proto";
const servers: RelayServer[] = [];
const clients: RelayClient[] = [];
const locals: LocalRelay[] = [];

async function relay(options: RelayServerOptions = {}): Promise<{ server: RelayServer; url: string; port: number }> {
  const server = new RelayServer({ port: 0, drainTimeoutMs: 500, ...options });
  servers.push(server);
  const started = await server.start();
  return { server, ...started };
}
async function connect(url: string, options: RelayClientOptions = {}): Promise<RelayClient> {
  const client = await RelayClient.connect(url, { pingIntervalMs: 0, ...options });
  clients.push(client);
  return client;
}
function envelope(text: string): WakuEnvelope {
  return { payload: new TextEncoder().encode(text), contentTopic: TOPIC };
}
const text = (message: ReceivedEnvelope) => new TextDecoder().decode(message.envelope.payload);

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await Promise.all(locals.splice(0).map((local) => local.close()));
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

describe("RelayClient", () => {
  it("publishes with a confirmed hash and delivers to other subscribers once", async () => {
    const { server, url } = await relay();
    const alice = await connect(url);
    const bob = await connect(url);
    const received: ReceivedEnvelope[] = [];
    bob.subscribe(TOPIC, (message) => received.push(message));
    alice.subscribe(TOPIC, () => expect.unreachable("own publish echoed"));
    await bob.fetchSince(TOPIC, 0n); // a round trip: the subscription is in place
    const ack = await alice.publish(TOPIC, envelope("hello"));
    expect(ack.hashHex).toBe(toHex(messageHash(server.pubsubTopic, envelope("hello"))));
    await until(() => received.length === 1);
    expect(received[0]).toMatchObject({ topic: TOPIC, hashHex: ack.hashHex, source: "live", storedAtNs: ack.storedAtNs });
    expect(text(received[0]!)).toBe("hello");
    const fetched = await bob.fetchByHashes(TOPIC, [ack.hash, new Uint8Array(32)]);
    expect(fetched.map((message) => message.hashHex)).toEqual([ack.hashHex]);
  });

  it("filters duplicate frames from a lossy relay", async () => {
    const { url } = await relay({ faults: { dropRate: 0, duplicateRate: 1, seed: 1 } });
    const alice = await connect(url);
    const bob = await connect(url);
    const received: string[] = [];
    bob.subscribe(TOPIC, (message) => received.push(text(message)));
    await bob.fetchSince(TOPIC, 0n);
    for (let index = 0; index < 20; index++) await alice.publish(TOPIC, envelope(`m${index}`));
    await bob.fetchSince(TOPIC, 0n);
    await until(() => received.length >= 20);
    expect(received).toEqual(Array.from({ length: 20 }, (_, index) => `m${index}`));
  });

  it("recovers live deliveries a lossy relay dropped through the store, by hash", async () => {
    const { server, url } = await relay({ faults: { dropRate: 0.5, duplicateRate: 0, seed: 42 } });
    const alice = await connect(url);
    const bob = await connect(url);
    const live = new Set<string>();
    bob.subscribe(TOPIC, (message) => live.add(message.hashHex));
    await bob.fetchSince(TOPIC, 0n);
    const acks = [];
    for (let index = 0; index < 40; index++) acks.push(await alice.publish(TOPIC, envelope(`m${index}`)));
    await bob.fetchSince(TOPIC, 0n); // round trip: every live frame sent before it has arrived
    expect(live.size).toBe(40 - server.stats().droppedByFaults);
    const missing = acks.filter((ack) => !live.has(ack.hashHex));
    expect(missing.length).toBeGreaterThan(0);
    const recovered = await bob.fetchByHashes(TOPIC, missing.map((ack) => ack.hash));
    expect(recovered.map((message) => message.hashHex)).toEqual(missing.map((ack) => ack.hashHex));
  });

  it("catches up from the store after a subscription with sinceTimestampNs", async () => {
    const { url } = await relay();
    const alice = await connect(url);
    const first = await alice.publish(TOPIC, envelope("before-1"));
    await alice.publish(TOPIC, envelope("before-2"));
    const bob = await connect(url);
    const received: ReceivedEnvelope[] = [];
    bob.subscribe(TOPIC, (message) => received.push(message), { sinceTimestampNs: first.storedAtNs });
    await until(() => received.length === 2);
    expect(received.map(text)).toEqual(["before-1", "before-2"]);
    expect(received.every((message) => message.source === "store")).toBe(true);
  });

  it("reconnects after a relay restart, resubscribes, re-sends pending publishes and catches up", async () => {
    const directory = mkdtempSync(join(tmpdir(), "sds-relay-client-"));
    const storeFile = join(directory, "relay.db");
    try {
      const first = await relay({ storeFile });
      const events: RelayClientEvent[] = [];
      const bob = await connect(first.url, { reconnectDelayMs: 20, reconnectDelayMaxMs: 100, onEvent: (event) => events.push(event) });
      const received: ReceivedEnvelope[] = [];
      bob.subscribe(TOPIC, (message) => received.push(message));
      const alice = await connect(first.url);
      await alice.publish(TOPIC, envelope("live-1"));
      await until(() => received.length === 1);
      await alice.close();
      await first.server.close();
      await until(() => events.some((event) => event.type === "disconnected"));
      // While bob is away, someone publishes on a relay sharing the store file.
      const side = await relay({ storeFile });
      const carol = await connect(side.url);
      await carol.publish(TOPIC, envelope("missed-1"));
      await carol.publish(TOPIC, envelope("missed-2"));
      await carol.close();
      await side.server.close();
      const pending = bob.publish(TOPIC, envelope("sent-while-down"));
      const restarted = await relay({ storeFile, port: first.port });
      const ack = await pending;
      expect(ack.duplicate).toBe(false);
      await until(() => received.length === 3);
      expect(received.map(text)).toEqual(["live-1", "missed-1", "missed-2"]);
      expect(received.slice(1).every((message) => message.source === "store")).toBe(true);
      expect(events.filter((event) => event.type === "connected").map((event) => (event as { reconnect: boolean }).reconnect)).toEqual([false, true]);
      // The subscription is live again on the restarted relay.
      const dave = await connect(restarted.url);
      await dave.publish(TOPIC, envelope("after"));
      await until(() => received.length === 4);
      expect(received[3]).toMatchObject({ source: "live" });
    } finally {
      await Promise.all(clients.splice(0).map((client) => client.close()));
      await Promise.all(servers.splice(0).map((server) => server.close()));
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it("fails fast with E_RELAY_UNAVAILABLE and backs off with jitter from the injected random", async () => {
    const port = await freePort();
    const events: RelayClientEvent[] = [];
    const failure = await RelayClient.connect(`ws://127.0.0.1:${port}`, { connectAttemptsMax: 4, reconnectDelayMs: 10, reconnectDelayMaxMs: 30, random: () => 0.5, onEvent: (event) => events.push(event) }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RelayError);
    expect((failure as RelayError).code).toBe("E_RELAY_UNAVAILABLE");
    // base 10, 20, 30 (capped); delay = base/2 + 0.5 × base/2
    expect(events.filter((event) => event.type === "reconnecting").map((event) => (event as { delayMs: number }).delayMs)).toEqual([8, 15, 23]);
    expect(events.at(-1)).toEqual({ type: "gaveUp", attempts: 4 });
  });

  it("times out an unconfirmed publish while the relay is away, and fails pending work on close", async () => {
    const { server, url } = await relay();
    const bob = await connect(url, { publishTimeoutMs: 200, reconnectDelayMs: 50 });
    await server.close();
    const late = await bob.publish(TOPIC, envelope("x")).catch((error: unknown) => error);
    expect((late as RelayError).code).toBe("E_RELAY_UNAVAILABLE");
    const pending = bob.fetchSince(TOPIC, 0n).catch((error: unknown) => error);
    await bob.close();
    expect(((await pending) as RelayError).code).toBe("E_RELAY_CLOSED");
    await expect(bob.publish(TOPIC, envelope("y"))).rejects.toMatchObject({ code: "E_RELAY_CLOSED" });
  });

  it("bounds publishes in flight and rides out the relay's rate limit by backing off", async () => {
    const { server, url } = await relay({ ratePerSecond: 500, rateBurst: 50 });
    const alice = await connect(url, { publishInFlightMax: 50 });
    const acks = await Promise.all(Array.from({ length: 1000 }, (_, index) => alice.publish(TOPIC, envelope(`bulk-${index}`))));
    expect(new Set(acks.map((ack) => ack.hashHex)).size).toBe(1000);
    expect(server.stats()).toMatchObject({ published: 1000, storedMessages: 1000 });
    expect(server.stats().rateLimited).toBeGreaterThan(0);
  });

  it("carries multi-megabyte envelopes when the relay allows them", async () => {
    const { url } = await relay({ frameBytesMax: 4 * 1024 * 1024 });
    const alice = await connect(url);
    const bob = await connect(url);
    const received: ReceivedEnvelope[] = [];
    bob.subscribe(TOPIC, (message) => received.push(message));
    await bob.fetchSince(TOPIC, 0n);
    const payload = new Uint8Array(3 * 1024 * 1024).map((_, index) => index % 251);
    const ack = await alice.publish(TOPIC, { payload, contentTopic: TOPIC });
    await until(() => received.length === 1);
    expect(Buffer.compare(received[0]!.envelope.payload, payload)).toBe(0);
    const [stored] = await bob.fetchByHashes(TOPIC, [ack.hash]);
    expect(stored?.envelope.payload.length).toBe(payload.length);
  });

  it("refuses an envelope too large for the relay's frames before sending", async () => {
    const { url } = await relay({ frameBytesMax: 2048 });
    const bob = await connect(url);
    await expect(bob.publish(TOPIC, { payload: new Uint8Array(4096), contentTopic: TOPIC })).rejects.toMatchObject({ code: "E_PAYLOAD_TOO_LARGE" });
    await expect(bob.publish(TOPIC, { payload: new Uint8Array(1), contentTopic: "/other/1/x/proto" })).rejects.toMatchObject({ code: "E_INPUT_INVALID" });
  });
});

describe("ensureLocalRelay", () => {
  it("starts an in-process relay when none listens, and the next caller connects to it", async () => {
    const port = await freePort();
    const first = await ensureLocalRelay({ port, client: { pingIntervalMs: 0 } });
    locals.push(first);
    expect(first.server).toBeDefined();
    expect(first.url).toBe(`ws://127.0.0.1:${port}`);
    const second = await ensureLocalRelay({ port, client: { pingIntervalMs: 0 } });
    locals.push(second);
    expect(second.server).toBeUndefined();
    const received: string[] = [];
    second.client.subscribe(TOPIC, (message) => received.push(text(message)));
    await second.client.fetchSince(TOPIC, 0n);
    await first.client.publish(TOPIC, envelope("local"));
    await until(() => received.length === 1);
    expect(received).toEqual(["local"]);
  });

  it("takes over when the hosting process's relay goes away", async () => {
    const port = await freePort();
    const host = await ensureLocalRelay({ port, client: { pingIntervalMs: 0 } });
    const guest = await ensureLocalRelay({ port, client: { pingIntervalMs: 0, reconnectDelayMs: 20 } });
    locals.push(guest);
    expect(guest.server).toBeUndefined();
    const received: string[] = [];
    guest.client.subscribe(TOPIC, (message) => received.push(text(message)));
    await host.close();
    await until(() => guest.server !== undefined && guest.client.connected);
    const late = await ensureLocalRelay({ port, client: { pingIntervalMs: 0 } });
    locals.push(late);
    expect(late.server).toBeUndefined();
    await guest.client.fetchSince(TOPIC, 0n);
    await late.client.publish(TOPIC, envelope("after take-over"));
    await until(() => received.length === 1);
    expect(received).toEqual(["after take-over"]);
  });
});

describe("isLoopbackUrl (client frames go unmasked only there)", () => {
  it("accepts loopback hosts and nothing else", () => {
    for (const url of ["ws://127.0.0.1:7645", "ws://127.1.2.3", "ws://localhost:1", "ws://[::1]:7645/"]) expect(isLoopbackUrl(url)).toBe(true);
    for (const url of ["ws://10.0.0.1:7645", "wss://relay.example", "ws://127.0.0.1.example.com", "ws://[::2]", "not a url"]) expect(isLoopbackUrl(url)).toBe(false);
  });
});
