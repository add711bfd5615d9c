/**
 * The gaps reliability.md §4.3 lists in both reference suites: hostile bloom filters,
 * unbounded decodes, hostile lamport values in the nim dialect, and buffer work that must not
 * grow with the buffer (checked structurally: a 3,000-deep cascade, and bounded buffers).
 */
import { describe, expect, it } from "vitest";
import { ProtoWriter } from "../../../../src/core/protocol/wire/proto.js";
import { encodeMessage } from "../../../../src/core/protocol/wire/index.js";
import type { DialectName, SdsMessage } from "../../../../src/core/protocol/types.js";
import { ReliabilityManager } from "../../../../src/core/reliability-manager.js";
import { bytes, FakeClock, text } from "./support.js";

const CHANNEL = "gaps";

function wire(dialect: DialectName, overrides: Partial<SdsMessage> & { messageId: string }): Uint8Array {
  return encodeMessage({ senderId: "mallory", channelId: CHANNEL, lamportTimestamp: 1n, causalHistory: [], content: bytes(overrides.messageId), repairRequest: [], ...overrides }, { dialect });
}

describe("gaps in the reference suites (reliability.md §4.3)", () => {
  for (const dialect of ["spec", "nim"] as const) {
    it(`hostile bloom filters are refused with an event, never trusted or crashed on (${dialect})`, async () => {
      const clock = new FakeClock();
      const alice = new ReliabilityManager({ participantId: "alice", dialect, now: clock.now, config: { causalHistorySize: 0 } });
      const sent = await alice.send(CHANNEL, bytes("pending"));
      const invalid: string[] = [];
      alice.on("invalidBloom", (event: { messageId: string }) => invalid.push(event.messageId));
      const saturatedWrongLength = new Uint8Array(18_752 + 8).fill(0xff);
      // nim framing {1: words, 2: capacity, 3: errorRate·1e6, 4: k, 5: mBits}, written by hand.
      const nimBloom = (words: Uint8Array, capacity: number, k: number, mBits: number) =>
        new ProtoWriter().bytesField(1, words).uint64Field(2, capacity).uint64Field(3, 1000).uint64Field(4, k).uint64Field(5, mBits).finish();
      const absurdParameters = nimBloom(new Uint8Array(16), 1, 1, 2 ** 40);
      const lyingLength = nimBloom(new Uint8Array(32).fill(0xff), 10, 3, 6400);
      for (const [index, bloomFilter] of [saturatedWrongLength, absurdParameters, lyingLength, new Uint8Array([0xff])].entries()) {
        const result = await alice.receive(wire(dialect, { messageId: `h${index}`, bloomFilter }));
        expect(result.acknowledged).toEqual([]);
      }
      expect(invalid).toHaveLength(4);
      expect(alice.inspect(CHANNEL)!.outgoing.has(sent.messageId)).toBe(true);
    });

    it(`an unbounded causal history is refused at decode with E_DECODE_LIMIT (${dialect})`, async () => {
      const alice = new ReliabilityManager({ participantId: "alice", dialect });
      const causalHistory = Array.from({ length: 100_000 }, (_, index) => ({ messageId: `d${index}` }));
      await expect(alice.receive(wire(dialect, { messageId: "huge", causalHistory }))).rejects.toMatchObject({ code: "E_DECODE_LIMIT" });
      expect(alice.loadedChannels()).toEqual([]);
      await expect(alice.receive(new Uint8Array([0xff, 0xff, 0xff]))).rejects.toMatchObject({ name: "DecodeError" });
    });

    it(`a 3,000-deep dependency chain received backwards is delivered in order by one cascade (${dialect})`, async () => {
      const clock = new FakeClock();
      const alice = new ReliabilityManager({ participantId: "alice", dialect, now: clock.now, config: { causalHistorySize: 1, historyEntriesMax: 5_000 } });
      const bob = new ReliabilityManager({ participantId: "bob", dialect, now: clock.now, config: { causalHistorySize: 1, repairEnabled: false, syncIntervalMs: 0 } });
      const wires: Uint8Array[] = [];
      for (let index = 0; index < 3_000; index++) wires.push((await alice.send(CHANNEL, bytes(`m${index}`))).wire);
      for (let index = wires.length - 1; index > 0; index--) expect((await bob.receive(wires[index]!)).delivered).toEqual([]);
      const result = await bob.receive(wires[0]!);
      expect(result.delivered).toHaveLength(3_000);
      expect(result.delivered.map((delivered) => text(delivered.content))).toEqual(Array.from({ length: 3_000 }, (_, index) => `m${index}`));
      expect(bob.inspect(CHANNEL)!.incoming.size).toBe(0);
    }, 60_000);
  }

  it("a message naming itself as a dependency is delivered, not parked forever", async () => {
    const bob = new ReliabilityManager({ participantId: "bob" });
    const result = await bob.receive(wire("spec", { messageId: "self", causalHistory: [{ messageId: "self", senderId: "mallory" }] }));
    expect(result.delivered.map((delivered) => delivered.messageId)).toEqual(["self"]);
  });

  it("the incoming buffer stays within its cap under a flood of undeliverable messages, with evicted events", async () => {
    const bob = new ReliabilityManager({ participantId: "bob", config: { incomingBufferEntriesMax: 50, repairBufferEntriesMax: 20 } });
    const evicted: string[] = [];
    bob.on("evicted", (event: { buffer: string; messageId: string }) => event.buffer === "incoming" && evicted.push(event.messageId));
    for (let index = 0; index < 200; index++) await bob.receive(wire("spec", { messageId: `orphan${index}`, causalHistory: [{ messageId: `ghost${index}`, senderId: "mallory" }] }));
    const state = bob.inspect(CHANNEL)!;
    expect(state.incoming.size).toBe(50);
    expect(state.outgoingRepair.size).toBeLessThanOrEqual(20);
    expect(evicted).toHaveLength(150);
    expect(evicted[0]).toBe("orphan0");
  });

  it("nim dialect: hostile lamport values never pull the clock past nowSeconds + skewSeconds (+1 per operation)", async () => {
    const clock = new FakeClock();
    const bob = new ReliabilityManager({ participantId: "bob", dialect: "nim", now: clock.now });
    const ceiling = Math.floor(clock.nowMs / 1000) + bob.config.maxFutureSkewMs / 1000;
    let operations = 0;
    for (const lamport of [(1n << 64n) - 1n, (1n << 63n) - 1n, 0n, BigInt(ceiling) * 1000n]) {
      await bob.receive(wire("nim", { messageId: `l${lamport}`, lamportTimestamp: lamport }));
      operations++;
      expect(bob.inspect(CHANNEL)!.lamport).toBeLessThanOrEqual(ceiling + operations);
    }
  });
});
