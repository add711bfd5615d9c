/**
 * One engine operation on one channel: the state it mutates, its context, the effects it
 * produces (bytes to publish, deliveries, events) and the persistence delta it records.
 * Every state change made by the engine goes through an `Operation`, so the delta always
 * describes exactly what changed.
 */
import type { HistoryEntry } from "../types.js";
import { DeltaBuilder } from "./delta.js";
import type { Delivered, EngineEvent } from "./events.js";
import type { ChannelState, EngineContext } from "./state.js";

/** Everything an operation produced; the driver releases it after committing `delta`. */
export class Effects {
  /** Wire messages to publish, in order. */
  readonly publish: Uint8Array[] = [];
  /** Messages to hand to the application, in causal order. */
  readonly delivered: Delivered[] = [];
  readonly events: EngineEvent[] = [];
  /** Own message ids acknowledged by this operation. */
  readonly acknowledged: string[] = [];
  /** Dependencies found missing by this operation. */
  readonly missing: HistoryEntry[] = [];
  /** Dependencies given up on (lost-message timeout). */
  readonly lost: HistoryEntry[] = [];
  /** Own message ids given up on (resends exhausted or evicted). */
  readonly undelivered: string[] = [];

  /** Appends `other`'s effects to this one. */
  absorb(other: Effects): void {
    this.publish.push(...other.publish);
    this.delivered.push(...other.delivered);
    this.events.push(...other.events);
    this.acknowledged.push(...other.acknowledged);
    this.missing.push(...other.missing);
    this.lost.push(...other.lost);
    this.undelivered.push(...other.undelivered);
  }
}

/** State + context + effects + delta of one operation on one channel. */
export class Operation {
  readonly effects = new Effects();
  readonly delta: DeltaBuilder;

  constructor(readonly state: ChannelState, readonly context: EngineContext) {
    this.delta = new DeltaBuilder(state.channelId, state.lamport);
  }

  /** Sets the channel clock and records it. */
  setLamport(lamport: number): void {
    this.state.lamport = lamport;
    this.delta.setLamport(lamport);
  }

  /** Reports an event (the channel id is filled in by the caller's literal). */
  emit(event: EngineEvent): void {
    this.effects.events.push(event);
  }
}
