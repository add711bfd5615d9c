/**
 * TickResult.publish names the channel of every wire a tick returns; the Reliable Channel
 * publishes the wires labelled with its own channel id (and decodes them only for engines
 * without `publish`). The manager's labels match the wires' real channels, in order.
 */
import { describe, expect, it } from "vitest";
import { ReliableChannel } from "../../../src/core/channel/reliable-channel.js";
import type { ReliabilityEngine } from "../../../src/core/channel/options.js";
import { decodeMessage } from "../../../src/core/protocol/wire/index.js";
import { MemoryHub } from "../../../src/core/relay/memory-hub.js";
import { ReliabilityManager } from "../../../src/core/reliability-manager.js";

const text = (value: string): Uint8Array => new TextEncoder().encode(value);
const RESEND_MS = 2_000;

describe("TickResult.publish", () => {
  it("labels every tick wire with its channel, in the order of `wire`", async () => {
    let time = 1_700_000_000_000;
    const manager = new ReliabilityManager({ participantId: "alice", now: () => time, config: { resendIntervalMs: RESEND_MS, syncIntervalMs: 0 } });
    for (const channelId of ["one", "two", "three"]) for (let index = 0; index < 2; index++) await manager.send(channelId, text(`${channelId}-${index}`));
    time += RESEND_MS;
    const result = await manager.tick();
    expect(result.wire).toHaveLength(6);
    expect(result.publish.map((item) => item.wire)).toEqual(result.wire);
    for (const item of result.publish) expect(decodeMessage(item.wire, { dialect: "spec" }).channelId).toBe(item.channelId);
    expect(new Set(result.publish.map((item) => item.channelId))).toEqual(new Set(["one", "two", "three"]));
  });

  it("the channel publishes what is labelled with its id, trusts the label, and falls back to decoding without labels", async () => {
    let time = 1_700_000_000_000;
    const now = () => time;
    const hub = new MemoryHub({ nowMs: now });
    const manager = new ReliabilityManager({ participantId: "alice", now, config: { resendIntervalMs: RESEND_MS, maxResendAttempts: 10, syncIntervalMs: 0 } });
    let mode: "as-is" | "relabel" | "unlabelled" = "as-is";
    const engine: ReliabilityEngine = {
      dialect: manager.dialect,
      send: (channelId, payload, options) => manager.send(channelId, payload, options),
      receive: (wire, options) => manager.receive(wire, options),
      tick: async () => {
        const result = await manager.tick();
        if (mode === "relabel") return { ...result, publish: result.publish.map((item) => ({ ...item, channelId: "elsewhere" })) };
        if (mode === "unlabelled") return { wire: result.wire, delivered: result.delivered, lost: result.lost, acknowledged: result.acknowledged, undelivered: result.undelivered };
        return result;
      },
    };
    await manager.send("other-channel", text("not ours"));
    const channel = new ReliableChannel({ channelId: "mine", engine, transport: hub.connect(), now, storeSyncIntervalMs: 0 });
    channel.start();
    await channel.send(text("ours"));
    await channel.idle();
    const resendsAfterTick = async (): Promise<number> => {
      const before = channel.counters.resent;
      time += RESEND_MS;
      await channel.tick();
      await channel.idle();
      return channel.counters.resent - before;
    };
    expect(await resendsAfterTick()).toBe(1); // ours only, not other-channel's
    mode = "relabel";
    expect(await resendsAfterTick()).toBe(0);
    mode = "unlabelled";
    expect(await resendsAfterTick()).toBe(1);
    expect(hub.stats().published).toBe(3); // first send + two resends; nothing of other-channel
    await channel.stop();
  });
});
