/**
 * A wire dialect as a small value: the Lamport clock rule, the bloom hash family and framing,
 * the repair hash, whether sync/ephemeral messages exist, and the defaults. The engine is one
 * implementation; everything that differs between the spec/js-waku world and nim-sds is read
 * from here (research/sds-protocol.md §0, §4.1). Codecs and filters take the dialect name.
 *
 * Clocks are plain numbers inside the engine: the hostile-value clamp keeps them below
 * `now + maxFutureSkewMs` (spec, epoch ms) or about `nowSeconds + skewSeconds` (nim), far
 * below 2^53, so no BigInt arithmetic is needed on the hot path.
 */
import { defaultConfig, type SdsConfig } from "./config.js";
import type { DialectName } from "./types.js";

/** Everything the engine needs to know about a dialect. */
export interface Dialect {
  readonly name: DialectName;
  /** Bloom `hash(string)` family: js-waku Murmur3-32 or Nim ≥ 2.2 FarmHash64. */
  readonly bloomHashFamily: "murmur3" | "farmhash64";
  /** `true` when sync (empty content) and ephemeral (no lamport) messages exist on the wire. */
  readonly hasSyncAndEphemeral: boolean;
  /** Lamport clock of a channel created at `nowMs` (spec: nowMs; nim: 0). */
  initialLamport(nowMs: number): number;
  /** Clock after sending at `nowMs` (spec `max(nowMs, ts+1)`; nim `max(nowSeconds, ts)+1`). */
  lamportOnSend(current: number, nowMs: number): number;
  /** Clock after receiving any non-duplicate message (nim `max(msgTs, ts)+1`; spec: unchanged). */
  lamportOnReceive(current: number, messageLamport: bigint, nowMs: number, maxFutureSkewMs: number): number;
  /** Clock after delivering a message (spec `max(ts, msgTs)`; nim: unchanged). */
  lamportOnDeliver(current: number, messageLamport: bigint, nowMs: number, maxFutureSkewMs: number): number;
  /** Largest value a received lamport may pull the clock to at `nowMs`. */
  lamportCeiling(nowMs: number, maxFutureSkewMs: number): number;
  /** Default configuration. */
  readonly defaults: Readonly<SdsConfig>;
}

/** `value` as a number, or `ceiling` when above it (no precision loss below 2^53). */
export function clampLamport(value: bigint, ceiling: number): number {
  if (value > BigInt(ceiling)) return ceiling;
  return Number(value);
}

const specDialect: Dialect = Object.freeze({
  name: "spec",
  bloomHashFamily: "murmur3",
  hasSyncAndEphemeral: true,
  defaults: defaultConfig("spec"),
  initialLamport: (nowMs: number) => Math.floor(nowMs),
  lamportOnSend: (current: number, nowMs: number) => Math.max(Math.floor(nowMs), current + 1),
  lamportOnReceive: (current: number) => current,
  lamportOnDeliver(current: number, messageLamport: bigint, nowMs: number, maxFutureSkewMs: number): number {
    return Math.max(current, clampLamport(messageLamport, specDialect.lamportCeiling(nowMs, maxFutureSkewMs)));
  },
  lamportCeiling: (nowMs: number, maxFutureSkewMs: number) => Math.floor(nowMs) + maxFutureSkewMs,
} satisfies Dialect);

const nimDialect: Dialect = Object.freeze({
  name: "nim",
  bloomHashFamily: "farmhash64",
  hasSyncAndEphemeral: false,
  defaults: defaultConfig("nim"),
  initialLamport: () => 0,
  lamportOnSend: (current: number, nowMs: number) => Math.max(Math.floor(nowMs / 1000), current) + 1,
  lamportOnReceive(current: number, messageLamport: bigint, nowMs: number, maxFutureSkewMs: number): number {
    return Math.max(clampLamport(messageLamport, nimDialect.lamportCeiling(nowMs, maxFutureSkewMs)), current) + 1;
  },
  lamportOnDeliver: (current: number) => current,
  lamportCeiling: (nowMs: number, maxFutureSkewMs: number) => Math.floor(nowMs / 1000) + Math.ceil(maxFutureSkewMs / 1000),
} satisfies Dialect);

/** The dialect value of a name. */
export function getDialect(name: DialectName): Dialect {
  return name === "nim" ? nimDialect : specDialect;
}

/** Both dialects, spec first (the default). */
export const DIALECTS: readonly Dialect[] = [specDialect, nimDialect];

/** `true` when `value` names a dialect. */
export function isDialectName(value: unknown): value is DialectName {
  return value === "spec" || value === "nim";
}
