import type { Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { encodeEnvelope, messageHash, toHex, type WakuEnvelope } from "../../../src/core/relay/envelope.js";
import { RelayClient } from "../../../src/core/relay/client.js";
import { type Frame, RelayFeature } from "../../../src/core/relay/protocol.js";
import { RelayServer } from "../../../src/core/relay/server.js";
import { type RawClient, rawClient, roundTrip, until } from "./helpers.js";

const TOPIC = "/sds/1/acks/proto";
const servers: RelayServer[] = [];
const clients: RawClient[] = [];

async function relay(): Promise<{ server: RelayServer; url: string }> {
  const server = new RelayServer({ port: 0, drainTimeoutMs: 500 });
  servers.push(server);
  return { server, url: (await server.start()).url };
}
async function client(url: string, batched: boolean): Promise<RawClient> {
  const made = await rawClient(url);
  clients.push(made);
  if (batched) made.send({ type: "hello", features: RelayFeature.AckBatches });
  return made;
}
function envelope(index: number): WakuEnvelope {
  return { payload: new TextEncoder().encode(`message ${index}`), contentTopic: TOPIC, timestampNs: BigInt(index) };
}
/** Sends `frames` in one socket write, so the relay reads them in one go (one event-loop turn). */
function sendTogether(made: RawClient, frames: Frame[]): void {
  const socket = (made.ws as unknown as { _socket: Socket })._socket;
  socket.cork();
  for (const frame of frames) made.send(frame);
  socket.uncork();
}
/** Every ack the client got, in arrival order, whether alone or in a PUBLISH_ACKS. */
function acks(made: RawClient): Array<{ requestId: number; hash: string }> {
  return made.frames.flatMap((frame) =>
    frame.type === "publishAck" ? [{ requestId: frame.requestId, hash: toHex(frame.hash) }] : frame.type === "publishAcks" ? frame.acks.map((ack) => ({ requestId: ack.requestId, hash: toHex(ack.hash) })) : [],
  );
}
const publishes = (first: number, count: number): Frame[] => Array.from({ length: count }, (_, index) => ({ type: "publish", requestId: first + index, envelope: encodeEnvelope(envelope(first + index)) }));

afterEach(async () => {
  for (const made of clients.splice(0)) made.ws.terminate();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

describe("relay ack batches", () => {
  it("are offered in WELCOME, and a client that did not ask gets one PUBLISH_ACK per publish", async () => {
    const { url } = await relay();
    const plain = await client(url, false);
    expect(plain.of("welcome")[0]?.features).toBe(RelayFeature.AckBatches);
    sendTogether(plain, [...publishes(1, 20), { type: "ping", nonce: 1 }]);
    await plain.next("pong");
    expect(plain.of("publishAcks")).toHaveLength(0);
    expect(acks(plain).map((ack) => ack.requestId)).toEqual(Array.from({ length: 20 }, (_, index) => 1 + index));
  });

  it("acknowledge a burst in PUBLISH_ACKS frames, in request order, with the right hashes, before a later PONG", async () => {
    const { server, url } = await relay();
    const batched = await client(url, true);
    await roundTrip(batched, 1);
    sendTogether(batched, [...publishes(100, 50), { type: "ping", nonce: 2 }]);
    await batched.next("pong", (frame) => frame.nonce === 2);
    const got = acks(batched);
    expect(got.map((ack) => ack.requestId)).toEqual(Array.from({ length: 50 }, (_, index) => 100 + index));
    for (const ack of got) expect(ack.hash).toBe(toHex(messageHash(server.pubsubTopic, envelope(ack.requestId))));
    // Read in one go, the 50 acks travel in far fewer frames than 50.
    expect(batched.of("publishAcks").length).toBeGreaterThan(0);
    expect(batched.of("publishAck").length + batched.of("publishAcks").length).toBeLessThan(50);
    const pongAt = batched.frames.findIndex((frame) => frame.type === "pong" && frame.nonce === 2);
    expect(batched.frames.slice(pongAt).some((frame) => frame.type === "publishAck" || frame.type === "publishAcks")).toBe(false);
  });

  it("keep acks and rejects in request order, and never exceed 1024 acks per frame", async () => {
    const { url } = await relay();
    const batched = await client(url, true);
    const bad: Frame = { type: "publish", requestId: 2000, envelope: encodeEnvelope({ payload: new Uint8Array([1]), contentTopic: "not-a-topic" }) };
    sendTogether(batched, [...publishes(1, 1100), bad, ...publishes(2001, 3), { type: "ping", nonce: 3 }]);
    await batched.next("pong", (frame) => frame.nonce === 3);
    for (const frame of batched.of("publishAcks")) expect(frame.acks.length).toBeLessThanOrEqual(1024);
    const answered = batched.frames.flatMap((frame) => (frame.type === "publishAck" || frame.type === "publishReject" ? [frame.requestId] : frame.type === "publishAcks" ? frame.acks.map((ack) => ack.requestId) : []));
    expect(answered).toEqual([...Array.from({ length: 1100 }, (_, index) => 1 + index), 2000, 2001, 2002, 2003]);
  });

  it("turn off again with HELLO features 0", async () => {
    const { url } = await relay();
    const made = await client(url, true);
    made.send({ type: "hello", features: 0 });
    sendTogether(made, [...publishes(5000, 10), { type: "ping", nonce: 4 }]);
    await made.next("pong");
    expect(made.of("publishAcks")).toHaveLength(0);
    expect(acks(made)).toHaveLength(10);
  });

  it("are understood by RelayClient: concurrent publishes all settle with their own hash", async () => {
    const { server, url } = await relay();
    const relayClient = await RelayClient.connect(url, { pingIntervalMs: 0 });
    try {
      const values = Array.from({ length: 300 }, (_, index) => envelope(10_000 + index));
      const results = await Promise.all(values.map((value) => relayClient.publish(TOPIC, value)));
      results.forEach((result, index) => expect(result.hashHex).toBe(toHex(messageHash(server.pubsubTopic, values[index] as WakuEnvelope))));
      await until(() => server.stats().published === 300);
    } finally {
      await relayClient.close();
    }
  });
});
