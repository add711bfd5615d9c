import { afterEach, describe, expect, it } from "vitest";
import { RelayServer } from "../../../src/core/relay/server.js";
import { RelayClient } from "../../../src/core/relay/client.js";
import { ReliabilityManager } from "../../../src/core/reliability-manager.js";
import { ReliableChannel } from "../../../src/core/channel/reliable-channel.js";
import { timerScheduler } from "../../../src/core/channel/events.js";

const SEED = Number(process.env.SDS_SEED ?? Date.now() % 100_000);
console.log(`loopback.test seed ${SEED} (set SDS_SEED to replay)`);

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function until(condition: () => boolean, what: string, deadlineMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > deadlineMs) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("ReliableChannel over a real WebSocket relay on loopback", () => {
  it("moves small and multi-MB encrypted payloads between two peers through a lossy relay", async () => {
    const server = new RelayServer({ host: "127.0.0.1", port: 0, faults: { dropRate: 0.2, duplicateRate: 0.05, seed: SEED }, heartbeatIntervalMs: 0 });
    const { url } = await server.start();
    cleanups.push(() => server.close());
    const key = new Uint8Array(32).fill(42);
    const peers = [];
    for (const name of ["alice", "bob"]) {
      const transport = await RelayClient.connect(url);
      const engine = new ReliabilityManager({ participantId: name, config: { resendIntervalMs: 300, maxResendAttempts: 50, syncIntervalMs: 500, repairTMinMs: 200, repairTMaxMs: 2_000 } });
      const channel = new ReliableChannel({ channelId: "loop", engine, transport, key, scheduler: timerScheduler(), tickIntervalMs: 100, storeSyncIntervalMs: 500 });
      const received: Uint8Array[] = [];
      channel.on("received", (event) => received.push(event.payload));
      channel.start();
      cleanups.push(async () => {
        await channel.stop();
        await transport.close();
      });
      peers.push({ channel, received });
    }
    const [alice, bob] = peers as [(typeof peers)[0], (typeof peers)[0]];
    const big = new Uint8Array(2 * 1024 * 1024 + 333).map((_, index) => (index * 13) & 0xff);
    const lines = Array.from({ length: 20 }, (_, index) => new TextEncoder().encode(`line ${index}`));
    for (const line of lines.slice(0, 10)) await alice.channel.send(line);
    const bigReceipt = await alice.channel.send(big);
    for (const line of lines.slice(10)) await alice.channel.send(line);
    await until(() => bob.received.length >= lines.length + 1, "bob to receive everything");
    const texts = bob.received.filter((payload) => payload.length < 100).map((payload) => new TextDecoder().decode(payload));
    expect(texts).toEqual(lines.map((line) => new TextDecoder().decode(line)));
    expect(bob.received.findIndex((payload) => payload.length === big.length)).toBe(10);
    expect(Buffer.from(bob.received[10]!).equals(Buffer.from(big))).toBe(true);
    await bob.channel.send(new TextEncoder().encode("thanks"));
    expect(await alice.channel.waitFor(bigReceipt.requestId, "final", AbortSignal.timeout(20_000))).toBe("delivered");
  });
});
