/**
 * H7 (hostile lamport values), H8 (repair amplification), H9 (cross-channel and echoed own
 * messages) and H10 (sync and ephemeral edge cases) of reliability.md §5.6.
 */
import { describe, expect, it } from "vitest";
import { isSdsError } from "../../src/core/errors.js";
import { decodeMessage } from "../../src/core/protocol/wire/index.js";
import type { DialectName } from "../../src/core/protocol/types.js";
import { START_MS, rejection, subject, wire } from "./fixtures.js";

const UINT64_MAX = (1n << 64n) - 1n;

describe("H7: hostile lamport values", () => {
  const hostile: Array<[string, bigint]> = [
    ["0", 0n], ["2^63−1", (1n << 63n) - 1n], ["2^64−1", UINT64_MAX], ["10 years ahead", BigInt(START_MS + 10 * 365 * 86_400_000)], ["far past", 1n],
  ];
  for (const dialect of ["spec", "nim"] as DialectName[]) {
    it(`${dialect}: no overflow or throw; the clock stays within now + maxFutureSkewMs; own lamports keep increasing; history stays ordered`, async () => {
      const maxFutureSkewMs = 600_000;
      const { manager, clock } = subject("me", dialect, { maxFutureSkewMs });
      const ceiling = dialect === "spec" ? START_MS + maxFutureSkewMs : Math.floor(START_MS / 1000) + maxFutureSkewMs / 1000;
      let previous = -1n;
      for (const [name, lamport] of hostile) {
        const error = await rejection(manager.receive(wire({ messageId: `hostile-${name}`, lamportTimestamp: lamport }, dialect)));
        expect(error === undefined || isSdsError(error)).toBe(true);
        const state = manager.inspect("chan");
        // nim adds 1 per received and per sent message on top of the clamped value.
        expect(state?.lamport ?? 0).toBeLessThanOrEqual(ceiling + 2 * hostile.length);
        const sent = await manager.send("chan", new TextEncoder().encode(`after ${name}`));
        const own = decodeMessage(sent.wire, { dialect }).lamportTimestamp ?? 0n;
        expect(own).toBeGreaterThan(previous);
        expect(own).toBeLessThanOrEqual(BigInt(ceiling + 2 * hostile.length + 1));
        previous = own;
        clock.nowMs += 1;
      }
      const ordered = manager.inspect("chan")?.history.toArray() ?? [];
      for (let index = 1; index < ordered.length; index += 1) {
        const a = ordered[index - 1]!;
        const b = ordered[index]!;
        expect(a.lamport < b.lamport || (a.lamport === b.lamport && a.messageId < b.messageId)).toBe(true);
      }
    });
  }
});

describe("H8: repair amplification", () => {
  it("answers at most the configured rebroadcasts, never for unknown ids, however often it is asked", async () => {
    const perTickMax = 8;
    const perMessageMax = 2;
    const { manager, clock } = subject("me", "spec", {
      resendIntervalMs: 1_000_000_000, syncIntervalMs: 0, repairResponsesPerTickMax: perTickMax, repairResponsesPerMessageMax: perMessageMax, repairTMaxMs: 60_000,
    });
    const mine: string[] = [];
    for (let index = 0; index < 100; index += 1) mine.push((await manager.send("chan", new TextEncoder().encode(`m${index}`))).messageId);
    const unknown = Array.from({ length: 50 }, (_, index) => `unknown-${index}`);
    const requested = new Set(mine);
    let bytesIn = 0;
    let bytesOut = 0;
    const rebroadcasts = new Map<string, number>();
    for (let round = 0; round < 5; round += 1) {
      const request = wire({
        messageId: `attack-${round}`, senderId: "attacker", lamportTimestamp: BigInt(START_MS + round),
        repairRequest: [...mine.map((messageId) => ({ messageId, senderId: round % 2 === 0 ? "me" : "someone-else" })), ...unknown.map((messageId) => ({ messageId, senderId: "me" }))],
      });
      bytesIn += request.length;
      await manager.receive(request);
      for (let step = 0; step < 10; step += 1) {
        clock.nowMs += 1_000;
        const tick = await manager.tick();
        let answered = 0;
        for (const bytes of tick.wire) {
          const id = decodeMessage(bytes, { dialect: "spec" }).messageId;
          expect(unknown).not.toContain(id);
          if (!requested.has(id)) continue;
          answered += 1;
          bytesOut += bytes.length;
          rebroadcasts.set(id, (rebroadcasts.get(id) ?? 0) + 1);
        }
        expect(answered).toBeLessThanOrEqual(perTickMax);
      }
    }
    expect(rebroadcasts.size).toBeGreaterThan(0);
    for (const count of rebroadcasts.values()) expect(count).toBeLessThanOrEqual(perMessageMax);
    process.stderr.write(`H8: ${bytesOut} bytes rebroadcast for ${bytesIn} bytes of requests (amplification ${(bytesOut / bytesIn).toFixed(2)})\n`);
    expect(bytesOut).toBeLessThanOrEqual(100 * perMessageMax * 2_000);
  });
});

describe("H9: cross-channel and echoed own messages", () => {
  it("a message on another channel neither delivers here nor acknowledges our messages here", async () => {
    const { manager } = subject();
    const sent = await manager.send("chan", new TextEncoder().encode("ours"));
    const ignored = await manager.receive(wire({ messageId: "elsewhere", channelId: "other" }), { channelId: "chan" });
    expect(ignored.ignored).toBe(true);
    expect(ignored.delivered).toEqual([]);
    const other = await manager.receive(wire({ messageId: "other-1", channelId: "other", causalHistory: [{ messageId: sent.messageId }] }));
    expect(other.acknowledged).toEqual([]);
    expect(manager.inspect("chan")?.outgoing.has(sent.messageId)).toBe(true);
  });

  it("our own messages echoed back are duplicates: not delivered, and they acknowledge nothing", async () => {
    const { manager } = subject();
    const first = await manager.send("chan", new TextEncoder().encode("first"));
    const second = await manager.send("chan", new TextEncoder().encode("second"));
    expect(decodeMessage(second.wire, { dialect: "spec" }).causalHistory.map((entry) => entry.messageId)).toContain(first.messageId);
    const echo = await manager.receive(second.wire);
    expect(echo.duplicate).toBe(true);
    expect(echo.delivered).toEqual([]);
    expect(echo.acknowledged).toEqual([]);
    expect(manager.inspect("chan")?.outgoing.has(first.messageId)).toBe(true);
  });
});

describe("H10: sync and ephemeral edge cases", () => {
  it("a sync message (no content) is never delivered, logged or buffered, even with an empty history", async () => {
    const { manager } = subject();
    const empty = await manager.receive(wire({ messageId: "sync-empty", content: undefined, causalHistory: [] }));
    expect(empty.delivered).toEqual([]);
    const referencing = await manager.receive(wire({ messageId: "sync-ref", content: undefined, causalHistory: [{ messageId: "unknown" }] }));
    expect(referencing.delivered).toEqual([]);
    const state = manager.inspect("chan");
    expect(state?.history.has("sync-empty")).toBe(false);
    expect(state?.history.has("sync-ref")).toBe(false);
    expect(state?.incoming.size).toBe(0);
  });

  it("an ephemeral message with a causal history is delivered at once and never logged or buffered", async () => {
    const { manager } = subject();
    const result = await manager.receive(wire({ messageId: "eph", lamportTimestamp: undefined, causalHistory: [{ messageId: "missing-dep" }] }));
    expect(result.delivered.map((delivered) => [delivered.messageId, delivered.ephemeral])).toEqual([["eph", true]]);
    expect(manager.inspect("chan")?.history.has("eph")).toBe(false);
    expect(manager.inspect("chan")?.incoming.size).toBe(0);
    const again = await manager.receive(wire({ messageId: "eph", lamportTimestamp: undefined }));
    expect(again.delivered.every((delivered) => delivered.ephemeral)).toBe(true);
  });

  it("a message with neither lamport nor content is a typed error; ephemeral sends on nim are refused", async () => {
    const { manager } = subject();
    const invalid = await rejection(manager.receive(wire({ messageId: "nothing", lamportTimestamp: undefined, content: undefined })));
    expect(isSdsError(invalid)).toBe(true);
    const nim = subject("me", "nim").manager;
    const refused = await rejection(nim.send("chan", new TextEncoder().encode("x"), { ephemeral: true }));
    expect(isSdsError(refused)).toBe(true);
  });
});
