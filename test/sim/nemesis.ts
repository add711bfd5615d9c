/**
 * The nemesis: schedules the seed's faults over the safety phase. Partitions (VOPR modes,
 * symmetric or asymmetric) with their heal, relay outages, crashes per peer at a chosen crash
 * point (idle crashes happen at once; the others are armed and hit the next operation of that
 * kind, so crashes land inside writes, as the VOPR biases them), disk-full and busy episodes,
 * and backward clock jumps. Nothing fires once the liveness phase has begun.
 */
import type { WorldHandle } from "./world.js";

/** Uniform instant in [0, share × safety phase), relative to now (the start). */
function at(world: WorldHandle, share: number): number {
  return world.random.int(Math.max(1, Math.floor(world.params.safetyMs * share)));
}

function schedulePartitions(world: WorldHandle): void {
  const { params, scheduler, relay, history } = world;
  const random = world.random.split("nemesis-partitions");
  for (let index = 0; index < params.partitions.count; index += 1) {
    const mode = random.pick(params.partitions.modes);
    const symmetric = random.chance(params.partitions.symmetricBp);
    const [low, high] = params.partitions.durationMs;
    const duration = random.range(low, Math.max(low, high));
    scheduler.after(random.int(Math.max(1, Math.floor(params.safetyMs * 0.5))), "partition", () => {
      if (!world.safety) return;
      const detail = relay.partition(mode, symmetric);
      history.record({ k: "fault", kind: "partition", detail });
      scheduler.after(duration, "heal", () => {
        if (!world.safety) return;
        relay.heal();
        history.record({ k: "fault", kind: "heal", detail: "" });
      });
    });
  }
  for (let index = 0; index < params.outages.count; index += 1) {
    scheduler.after(at(world, 0.6), "outage", () => {
      if (!world.safety) return;
      relay.outage(params.outages.durationMs);
      history.record({ k: "fault", kind: "outage", detail: `${params.outages.durationMs} ms` });
    });
  }
}

function scheduleCrashes(world: WorldHandle): void {
  const { params, scheduler, counters } = world;
  const random = world.random.split("nemesis-crashes");
  for (const peer of world.peers) {
    for (let index = 0; index < params.crashes.perPeer; index += 1) {
      const point = random.pick(params.crashes.points);
      scheduler.after(random.int(Math.floor(params.safetyMs * 0.8)), `crash ${peer.id}`, async () => {
        if (!world.safety || !peer.up) return;
        counters.add(`crash.armed.${point}`);
        if (point === "idle") await peer.crash("idle");
        else if (point === "inside-delivery") peer.armedDeliveryCrash = true;
        else if (point === "before-tick-release") peer.armedTickCrash = true;
        else if (peer.store !== undefined && (point === "before-commit" || point === "after-commit")) peer.store.armedCrash = point;
      });
    }
  }
}

function scheduleStorageEpisodes(world: WorldHandle): void {
  const { params, scheduler, history, counters } = world;
  const random = world.random.split("nemesis-storage");
  const episodes: Array<"E_STORE_FULL" | "E_STORE_BUSY"> = [
    ...Array.from({ length: params.storage.fullEpisodes }, () => "E_STORE_FULL" as const),
    ...Array.from({ length: params.storage.busyEpisodes }, () => "E_STORE_BUSY" as const),
  ];
  for (const code of episodes) {
    const peer = random.pick(world.peers);
    scheduler.after(random.int(Math.floor(params.safetyMs * 0.8)), `episode ${peer.id}`, () => {
      if (!world.safety || peer.store === undefined) return;
      peer.store.episode = { code, untilMs: scheduler.nowMs + params.storage.episodeMs };
      counters.add(`store.episode.${code}`);
      history.record({ k: "fault", kind: "store-episode", detail: `${peer.id} ${code} ${params.storage.episodeMs} ms` });
    });
  }
}

function scheduleClockJumps(world: WorldHandle): void {
  const { params, scheduler, history, counters } = world;
  const random = world.random.split("nemesis-clock");
  for (let index = 0; index < params.clock.backwardJumps; index += 1) {
    const peer = random.pick(world.peers);
    scheduler.after(random.int(Math.floor(params.safetyMs * 0.8)), `clock ${peer.id}`, () => {
      if (!world.safety) return;
      peer.clockOffsetMs -= params.clock.jumpMs;
      counters.add("clock.backward-jump");
      history.record({ k: "fault", kind: "clock-jump", detail: `${peer.id} −${params.clock.jumpMs} ms` });
    });
  }
  if (params.clock.skewMs.some((skew) => skew !== 0)) counters.add("clock.skewed-runs");
}

/** Power cuts: a random peer loses power (its unsynced writes) at a random time. */
function schedulePowerCuts(world: WorldHandle): void {
  const { params, scheduler } = world;
  const random = world.random.split("nemesis-power");
  for (let index = 0; index < params.powerLoss.cuts; index += 1) {
    const peer = random.pick(world.peers);
    scheduler.after(random.int(Math.floor(params.safetyMs * 0.8)), `power ${peer.id}`, async () => {
      if (!world.safety || !peer.up) return;
      await world.powerCut(peer);
    });
  }
}

/** Schedules every fault of the seed. Call once, at the start of the safety phase. */
export function scheduleNemesis(world: WorldHandle): void {
  schedulePowerCuts(world);
  schedulePartitions(world);
  scheduleCrashes(world);
  scheduleStorageEpisodes(world);
  scheduleClockJumps(world);
}
