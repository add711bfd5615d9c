import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { sha256 } from "@noble/hashes/sha2.js";
import { RepairManager } from "../../../node_modules/@waku/sds/dist/message_channel/repair/repair.js";
import { hashToInteger } from "../../../node_modules/@waku/sds/dist/message_channel/repair/utils.js";
import {
  computeTReqOffsetMs,
  computeTRespOffsetMs,
  isInResponseGroup,
  nimRepairHash,
  repairHash,
  responseGroupCount,
  specRepairHash,
} from "../../../src/core/protocol/repair-timing.js";

const seed = Number(process.env.SDS_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`repair-timing.test.ts seed ${seed} (set SDS_SEED to replay)`);
const HELLO_ID = Buffer.from(sha256(new TextEncoder().encode("hello"))).toString("hex");

describe("nim dialect (derived examples, §4.7)", () => {
  it("T_req offsets with tMin 30 s, tMax 300 s", () => {
    expect(computeTReqOffsetMs("nim", "participant1", "msg1", 30_000, 300_000)).toBe(44346);
    expect(computeTReqOffsetMs("nim", "alice", HELLO_ID, 30_000, 300_000)).toBe(74465);
  });
  it("T_resp offsets with tMax 300 s", () => {
    expect(computeTRespOffsetMs("nim", "other-node", "sender1", "msg1", 300_000)).toBe(188160);
    expect(computeTRespOffsetMs("nim", "bob", "alice", HELLO_ID, 300_000)).toBe(167680);
  });
  it("response groups and the original sender", () => {
    expect(isInResponseGroup("nim", "bob", "alice", HELLO_ID, 4)).toBe(false);
    expect(isInResponseGroup("nim", "alice", "alice", HELLO_ID, 4)).toBe(true);
    expect(computeTRespOffsetMs("nim", "alice", "alice", HELLO_ID, 300_000)).toBe(0);
    expect(computeTReqOffsetMs("nim", "a", "b", 30_000, 30_000)).toBe(30_000);
  });
  it("hash is Nim's hash(string)", () => {
    expect(nimRepairHash(HELLO_ID)).toBe(726375681560681840n);
    expect(repairHash("nim", "hello")).toBe(-5436999610281751320n);
  });
});

describe("spec dialect against @waku/sds RepairManager", () => {
  it("derived examples (tMin 30 s, tMax 120 s)", () => {
    expect(specRepairHash("alice")).toBe(3159282601090220207n);
    expect(repairHash("spec", "alice")).toBe(hashToInteger("alice"));
    expect(computeTReqOffsetMs("spec", "participant1", "msg1", 30_000, 120_000)).toBe(74304);
    expect(computeTReqOffsetMs("spec", "alice", HELLO_ID, 30_000, 120_000)).toBe(89930);
    expect(computeTRespOffsetMs("spec", "other-node", "sender1", "msg1", 120_000)).toBe(39864);
    expect(computeTRespOffsetMs("spec", "bob", "alice", HELLO_ID, 120_000)).toBe(96712);
    expect(isInResponseGroup("spec", "bob", "alice", HELLO_ID, 4)).toBe(false);
  });
  it("agrees with RepairManager on random ids and configurations (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 70 }),
        fc.string({ minLength: 1, maxLength: 70 }),
        fc.string({ maxLength: 70 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 1, max: 600_000 }),
        fc.integer({ min: 1, max: 9 }),
        (participant, sender, messageId, tMin, span, groups) => {
          const manager = new RepairManager(participant, { tMin, tMax: tMin + span, numResponseGroups: groups });
          expect(computeTReqOffsetMs("spec", participant, messageId, tMin, tMin + span)).toBe(manager.calculateTReq(messageId, 0));
          expect(computeTRespOffsetMs("spec", participant, sender, messageId, tMin + span)).toBe(manager.calculateTResp(sender, messageId, 0));
          expect(isInResponseGroup("spec", participant, sender, messageId, groups)).toBe(manager.isInResponseGroup(sender, messageId));
        },
      ),
      { numRuns: 400, seed },
    );
  });
  it("empty sender is never in a group; response group counts follow updateResponseGroups", () => {
    expect(isInResponseGroup("spec", "p", "", "m", 1)).toBe(false);
    expect(new RepairManager("p").isInResponseGroup("", "m")).toBe(false);
    for (const participants of [0, 1, 127, 128, 255, 256, 1000]) {
      const manager = new RepairManager("p");
      manager.updateResponseGroups(participants);
      expect(responseGroupCount("spec", participants)).toBe((manager as unknown as { config: { numResponseGroups: number } }).config.numResponseGroups);
    }
    expect(responseGroupCount("nim", 127)).toBe(1);
    expect(responseGroupCount("nim", 128)).toBe(2);
    expect(() => responseGroupCount("spec", -1)).toThrow(RangeError);
  });
  it("offsets stay in range for both dialects (fast-check)", () => {
    fc.assert(
      fc.property(fc.constantFrom("spec" as const, "nim" as const), fc.string(), fc.string(), fc.string(), fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 1, max: 600_000 }), (dialect, p, s, m, tMin, span) => {
        const tReq = computeTReqOffsetMs(dialect, p, m, tMin, tMin + span);
        expect(tReq >= tMin && tReq < tMin + span).toBe(true);
        const tResp = computeTRespOffsetMs(dialect, p, s, m, span);
        expect(tResp >= 0 && tResp < span).toBe(true);
        expect(isInResponseGroup(dialect, s === "" ? "x" : s, s === "" ? "x" : s, m, 7)).toBe(true);
      }),
      { numRuns: 300, seed },
    );
  });
});
