import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Reassembler, type ReassemblyOutcome } from "../../../src/core/channel/reassembly.js";
import { encodeSegment, payloadHash, segmentPayload, decodeSegment } from "../../../src/core/channel/segmentation.js";

const SEED = Number(process.env.SDS_SEED ?? Date.now() % 1_000_000);
console.log(`reassembly.test seed ${SEED} (set SDS_SEED to replay)`);

function clock(start = 0): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return { now: () => time, advance: (ms) => (time += ms) };
}

const payloadOf = (length: number, salt = 0): Uint8Array => Uint8Array.from({ length }, (_, index) => (index * 31 + salt) % 256);
const last = <T>(outcomes: ReassemblyOutcome<T>[]): ReassemblyOutcome<T> => outcomes[outcomes.length - 1]!;

describe("Reassembler", () => {
  it("reassembles in any order (property, seeded)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.integer({ min: 192, max: 700 }), fc.integer(), (payload, segmentBytesMax, shuffleSeed) => {
        const blobs = segmentPayload(payload, { segmentBytesMax, totalSegmentCountMax: 1000 });
        const order = blobs.map((_, index) => index).sort((a, b) => ((a * 7919 + shuffleSeed) % 101) - ((b * 7919 + shuffleSeed) % 101));
        const reassembler = new Reassembler<number>({ now: () => 0, segmentBytesMax, totalSegmentCountMax: 1000 });
        const outcomes = order.flatMap((index) => reassembler.accept(blobs[index]!, index));
        const complete = outcomes.filter((outcome) => outcome.kind === "complete");
        expect(complete).toHaveLength(1);
        const done = complete[0]!;
        if (done.kind !== "complete") throw new Error("unreachable");
        expect(Buffer.from(done.payload)).toEqual(Buffer.from(payload));
        expect(done.tags).toEqual(blobs.map((_, index) => index));
        expect(reassembler.setCount).toBe(0);
        expect(reassembler.bufferedBytes).toBe(0);
      }),
      { seed: SEED, numRuns: 200 },
    );
  });

  it("reports progress, ignores duplicates, and flags parity without using it", () => {
    const blobs = segmentPayload(payloadOf(300), { segmentBytesMax: 192 });
    const reassembler = new Reassembler<string>({ now: () => 0, segmentBytesMax: 192 });
    expect(last(reassembler.accept(blobs[0]!, "a"))).toMatchObject({ kind: "progress", held: 1, expected: 5 });
    expect(last(reassembler.accept(blobs[0]!, "a2"))).toMatchObject({ kind: "discarded", reason: "duplicate", tag: "a2" });
    const first = decodeSegment(blobs[0]!);
    const parity = encodeSegment({ ...first, index: 0, isParity: true, paritySegmentCount: 1 });
    const parityOnly = new Reassembler<string>({ now: () => 0, segmentBytesMax: 192 });
    expect(last(parityOnly.accept(parity, "p"))).toMatchObject({ kind: "discarded", reason: "parity-ignored" });
    expect(parityOnly.setCount).toBe(0);
  });

  it("discards a segment whose counts disagree with its set", () => {
    const blobs = segmentPayload(payloadOf(300), { segmentBytesMax: 192 });
    const reassembler = new Reassembler<number>({ now: () => 0, segmentBytesMax: 192 });
    reassembler.accept(blobs[0]!, 0);
    const other = encodeSegment({ ...decodeSegment(blobs[1]!), dataSegmentCount: 6 });
    expect(last(reassembler.accept(other, 1))).toMatchObject({ kind: "discarded", reason: "count-mismatch" });
    const withParity = encodeSegment({ ...decodeSegment(blobs[1]!), paritySegmentCount: 1 });
    expect(last(reassembler.accept(withParity, 1))).toMatchObject({ kind: "discarded", reason: "count-mismatch" });
  });

  it("drops a set whose hash does not match as lost / hash-mismatch", () => {
    const blobs = segmentPayload(payloadOf(200), { segmentBytesMax: 192 });
    const tampered = decodeSegment(blobs[1]!);
    const bytes = tampered.segmentPayload.slice();
    bytes[0] = bytes[0]! ^ 1;
    const reassembler = new Reassembler<number>({ now: () => 0, segmentBytesMax: 192 });
    reassembler.accept(blobs[0]!, 0);
    reassembler.accept(blobs[2]!, 2);
    reassembler.accept(blobs[3]!, 3);
    const outcome = last(reassembler.accept(encodeSegment({ ...tampered, segmentPayload: bytes }), 1));
    expect(outcome).toMatchObject({ kind: "lost", reason: "hash-mismatch", held: 4, expected: 4 });
    expect(reassembler.setCount).toBe(0);
    expect(reassembler.bufferedBytes).toBe(0);
  });

  it("rejects data overrunning the declared length and sets larger than the byte budget", () => {
    const small = decodeSegment(segmentPayload(payloadOf(10))[0]!);
    const reassembler = new Reassembler<number>({ now: () => 0, bufferedBytesMax: 1000 });
    expect(last(reassembler.accept(encodeSegment({ ...small, dataSegmentCount: 2, segmentPayload: payloadOf(11) }), 0))).toMatchObject({ kind: "discarded", reason: "invalid" });
    expect(reassembler.setCount).toBe(0);
    expect(last(reassembler.accept(encodeSegment({ ...small, originalPayloadLength: 1001, dataSegmentCount: 2 }), 0))).toMatchObject({ kind: "discarded", reason: "too-large" });
  });

  it("classifies undecodable, invalid and oversized segments", () => {
    const reassembler = new Reassembler<number>({ now: () => 0, segmentBytesMax: 192 });
    expect(last(reassembler.accept(new Uint8Array([0x0a, 0x05, 1]), 0))).toMatchObject({ kind: "discarded", reason: "undecodable" });
    expect(last(reassembler.accept(new Uint8Array([0x0a, 0x01, 1]), 0))).toMatchObject({ kind: "discarded", reason: "invalid" });
    const big = decodeSegment(segmentPayload(payloadOf(300))[0]!);
    expect(last(reassembler.accept(encodeSegment(big), 0))).toMatchObject({ kind: "discarded", reason: "oversized" });
  });

  it("expires incomplete sets after setTimeoutMs as lost / expired", () => {
    const time = clock(1000);
    const blobs = segmentPayload(payloadOf(300), { segmentBytesMax: 192 });
    const reassembler = new Reassembler<number>({ now: time.now, setTimeoutMs: 5000, segmentBytesMax: 192 });
    reassembler.accept(blobs[0]!, 0);
    expect(reassembler.nextExpiryMs()).toBe(6000);
    time.advance(4999);
    expect(reassembler.sweep()).toEqual([]);
    time.advance(1);
    expect(reassembler.sweep()).toEqual([{ kind: "lost", reason: "expired", payloadHash: Buffer.from(payloadHash(payloadOf(300))).toString("hex"), held: 1, expected: 5, tags: [0] }]);
    expect(reassembler.nextExpiryMs()).toBeUndefined();
    expect(reassembler.bufferedBytes).toBe(0);
  });

  it("evicts the least recently updated set beyond segmentSetsMax", () => {
    const sets = [0, 1, 2].map((salt) => segmentPayload(payloadOf(200, salt), { segmentBytesMax: 192 }));
    const reassembler = new Reassembler<number>({ now: () => 0, segmentSetsMax: 2, segmentBytesMax: 192 });
    reassembler.accept(sets[0]![0]!, 0);
    reassembler.accept(sets[1]![0]!, 1);
    reassembler.accept(sets[0]![1]!, 0); // set 0 is now the most recently updated
    const outcomes = reassembler.accept(sets[2]![0]!, 2);
    expect(outcomes[0]).toMatchObject({ kind: "lost", reason: "evicted", tags: [1] });
    expect(reassembler.setCount).toBe(2);
  });

  it("evicts to stay within bufferedBytesMax", () => {
    const first = segmentPayload(payloadOf(300, 1), { segmentBytesMax: 192 });
    const second = segmentPayload(payloadOf(300, 2), { segmentBytesMax: 192 });
    const reassembler = new Reassembler<string>({ now: () => 0, bufferedBytesMax: 400, segmentBytesMax: 192 });
    for (let index = 0; index < 4; index++) reassembler.accept(first[index]!, `a${index}`);
    expect(reassembler.bufferedBytes).toBe(256);
    const outcomes = [...reassembler.accept(second[0]!, "b0"), ...reassembler.accept(second[1]!, "b1"), ...reassembler.accept(second[2]!, "b2")];
    expect(outcomes.filter((outcome) => outcome.kind === "lost")).toMatchObject([{ reason: "evicted", held: 4 }]);
    expect(reassembler.bufferedBytes).toBeLessThanOrEqual(400);
  });

  it("keeps sets of different scopes apart", () => {
    const blobs = segmentPayload(payloadOf(200), { segmentBytesMax: 192 });
    const reassembler = new Reassembler<number>({ now: () => 0, segmentBytesMax: 192 });
    reassembler.accept(blobs[0]!, 0, "alice");
    expect(last(reassembler.accept(blobs[0]!, 0, "bob"))).toMatchObject({ kind: "progress", held: 1 });
    expect(reassembler.setCount).toBe(2);
  });
});
