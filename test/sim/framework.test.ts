/**
 * Tests of the simulator's own parts: the seeded PRNG, the event queue, the faulty relay, and
 * the checkers — each checker is fed a hand-written history that breaks its invariant and must
 * report it (a checker that cannot fail proves nothing).
 */
import { describe, expect, it } from "vitest";
import { checkHistory, type FinalState } from "./checkers.js";
import { Counters } from "./counters.js";
import { History, type SimEventInput } from "./history.js";
import { SimRelay, QUIET_NETWORK } from "./network.js";
import { SimRandom } from "./prng.js";
import { Scheduler } from "./scheduler.js";
import { drawWorld } from "./scenarios.js";
import { Violations } from "./violations.js";

describe("SimRandom", () => {
  it("is a pure function of its seed, and split streams are independent of draws made", () => {
    const a = new SimRandom(42);
    const b = new SimRandom(42);
    const first = Array.from({ length: 100 }, () => a.u32());
    expect(Array.from({ length: 100 }, () => b.u32())).toEqual(first);
    const fresh = new SimRandom(42).split("x");
    const used = new SimRandom(42);
    for (let index = 0; index < 50; index += 1) used.u32();
    expect(used.split("x").u32()).toBe(fresh.u32());
    expect(new SimRandom(43).u32()).not.toBe(first[0]);
  });

  it("draws integers without bias and honours basis-point chances", () => {
    const random = new SimRandom(7);
    const buckets = new Array<number>(6).fill(0);
    for (let index = 0; index < 60_000; index += 1) buckets[random.int(6)]! += 1;
    for (const count of buckets) expect(Math.abs(count - 10_000)).toBeLessThan(600);
    let hits = 0;
    for (let index = 0; index < 100_000; index += 1) if (random.chance(2_500)) hits += 1;
    expect(Math.abs(hits - 25_000)).toBeLessThan(1_000);
    expect(random.chance(0)).toBe(false);
    expect(random.chance(10_000)).toBe(true);
    expect(() => random.int(0)).toThrow(RangeError);
  });
});

describe("Scheduler", () => {
  it("runs events in time order, ties in scheduling order, and stops at the horizon", async () => {
    const scheduler = new Scheduler(1_000);
    const order: string[] = [];
    scheduler.after(20, "c", () => void order.push("c"));
    scheduler.after(10, "a", () => void order.push("a"));
    scheduler.after(10, "b", () => {
      order.push("b");
      scheduler.after(0, "b2", () => void order.push("b2"));
    });
    scheduler.after(500, "late", () => void order.push("late"));
    await scheduler.runUntil(1_100);
    expect(order).toEqual(["a", "b", "b2", "c"]);
    expect(scheduler.nowMs).toBe(1_100);
    expect(scheduler.pending).toBe(1);
  });
});

describe("SimRelay", () => {
  async function run(params: Partial<typeof QUIET_NETWORK>, packets: number): Promise<{ counters: Counters; arrived: number }> {
    const scheduler = new Scheduler(0);
    const counters = new Counters();
    let arrived = 0;
    const relay = new SimRelay(scheduler, new SimRandom(1), { ...QUIET_NETWORK, ...params }, ["p0", "p1"], counters, async () => {
      arrived += 1;
    });
    relay.up.add("p0").add("p1");
    for (let index = 0; index < packets; index += 1) relay.publish("p0", Uint8Array.of(index & 0xff));
    await scheduler.runUntil(1_000_000);
    return { counters, arrived };
  }

  it("loses, replays and reorders packets at the configured rates", async () => {
    const lossy = await run({ lossBp: 3_000 }, 2_000);
    expect(lossy.counters.get("net.drop.loss")).toBeGreaterThan(500);
    expect(lossy.arrived).toBe(2_000 - lossy.counters.get("net.drop.loss"));
    const replayed = await run({ replayBp: 5_000 }, 1_000);
    expect(replayed.arrived).toBe(1_000 + replayed.counters.get("net.replay"));
    expect(replayed.counters.get("net.replay")).toBeGreaterThan(400);
    const reordered = await run({ delayMinMs: 0, delayMeanMs: 100 }, 500);
    expect(reordered.counters.get("net.reorder")).toBeGreaterThan(50);
    const quiet = await run({}, 100);
    expect(quiet.arrived).toBe(100);
  });

  it("drops everything across a symmetric partition and during an outage, and nothing after heal", async () => {
    const scheduler = new Scheduler(0);
    const counters = new Counters();
    const arrivals: string[] = [];
    const relay = new SimRelay(scheduler, new SimRandom(2), QUIET_NETWORK, ["p0", "p1"], counters, async (to, from) => {
      arrivals.push(`${from}>${to}`);
    });
    relay.up.add("p0").add("p1");
    relay.partition("isolate_single", true);
    relay.publish("p0", Uint8Array.of(1));
    relay.publish("p1", Uint8Array.of(2));
    await scheduler.runUntil(1_000);
    expect(arrivals).toEqual([]);
    relay.heal();
    relay.outage(500);
    expect(relay.publish("p0", Uint8Array.of(3))).toBe(false);
    await scheduler.runUntil(2_000);
    relay.publish("p0", Uint8Array.of(4));
    await scheduler.runUntil(3_000);
    expect(arrivals).toEqual(["p0>p1"]);
  });
});

describe("history checkers", () => {
  const params = drawWorld(0, { policy: "write-before-release", store: "memory", scenario: "swarm" });
  const base = (): SimEventInput[] => [
    { k: "send", peer: "p0", channel: "c", id: "m1", lamport: "1", deps: [], contentHash: "h1", ephemeral: false },
    { k: "send", peer: "p0", channel: "c", id: "m2", lamport: "2", deps: ["m1"], contentHash: "h2", ephemeral: false },
  ];
  const final: FinalState = { corePeers: ["p0", "p1"], heldByCore: new Map([["c", new Set(["m1", "m2"])]]), historyOf: new Map() };

  function check(events: SimEventInput[]): string[] {
    let now = 0;
    const history = new History(() => now++);
    for (const event of events) history.record(event);
    const violations = new Violations(history, () => now);
    checkHistory(history, params, final, violations, new Counters());
    return violations.failures.map((violation) => violation.invariant);
  }

  const deliver = (id: string, contentHash: string, sender = "p0"): SimEventInput => ({ k: "deliver", peer: "p1", channel: "c", id, sender, lamport: "1", contentHash });
  const recv = (id: string, deps: string[] = []): SimEventInput => ({ k: "recv", peer: "p1", from: "p0", id, kind: "content", deps });

  it("accepts a clean history", () => {
    expect(check([...base(), recv("m1"), deliver("m1", "h1"), recv("m2", ["m1"]), deliver("m2", "h2")])).toEqual([]);
  });

  it("reports S1 for a duplicate delivery", () => {
    expect(check([...base(), deliver("m1", "h1"), deliver("m2", "h2"), deliver("m1", "h1")])).toContain("S1");
  });

  it("reports S2 for a delivery before its dependency, but not when the dependency was reported lost", () => {
    expect(check([...base(), deliver("m2", "h2"), deliver("m1", "h1")])).toContain("S2");
    expect(check([...base(), { k: "lost", peer: "p1", channel: "c", id: "m1" }, deliver("m2", "h2")])).not.toContain("S2");
  });

  it("reports S3 for a phantom or altered delivery", () => {
    expect(check([...base(), deliver("m1", "h1"), deliver("m2", "h2"), deliver("m9", "h9")])).toContain("S3");
    expect(check([...base(), deliver("m1", "hX"), deliver("m2", "h2")])).toContain("S3");
  });

  it("reports S7 for a causal-history ack of a message nobody else received", () => {
    expect(check([...base(), { k: "ack", peer: "p0", channel: "c", id: "m1", by: "causalHistory" }, deliver("m1", "h1"), deliver("m2", "h2")])).toContain("S7");
  });

  it("reports L1 for a message a peer knew of but neither got nor heard reported", () => {
    expect(check([...base(), recv("m2", ["m1"]), deliver("m1", "h1")])).toContain("L1");
    expect(check([...base(), recv("m2", ["m1"]), deliver("m1", "h1"), { k: "undelivered", peer: "p0", channel: "c", id: "m2" }])).toEqual([]);
  });
});
