/**
 * Configuration of the SDS engine: one flat record, every limit with its unit in the name,
 * with defaults per wire dialect (research/sds-protocol.md §3: nim-sds `defaultConfig()` for
 * `nim`, js-waku `@waku/sds` + Reliable Channel defaults for `spec`). `resolveConfig` fills a
 * partial config from the dialect's defaults and refuses nonsense with `E_CONFIG_INVALID`.
 */
import { SdsError } from "../errors.js";
import type { DialectName } from "./types.js";

/** How message ids are made for content sent through the engine. */
export type MessageIdMode = "unique" | "content";

/** Every tunable of the engine. Times in milliseconds, sizes in entries or bytes. */
export interface SdsConfig {
  /** Ids of the most recent local history entries attached to each message (spec 200, nim 10). */
  causalHistorySize: number;
  /** Local history cap; the oldest (lamport, id) entries are evicted first (spec 10,000, nim 1,000). */
  historyEntriesMax: number;
  /** Bloom filter capacity in ids (10,000 in both references). */
  bloomCapacity: number;
  /** Bloom filter target false-positive rate (0.001 in both references). */
  bloomErrorRate: number;
  /** Bloom hits needed before a sent message counts as acknowledged (spec 2, nim 1). */
  bloomAckThreshold: number;
  /** Interval between re-publications of an unacknowledged message (spec 30 s, nim 60 s). */
  resendIntervalMs: number;
  /** Re-publications before a message is reported `undelivered` (spec 10, nim 5). */
  maxResendAttempts: number;
  /** Age after which a message still missing dependencies is delivered anyway with a `lost` report; null = never. */
  lostMessageTimeoutMs: number | null;
  /** Quiet time after which `tick` sends a sync message (spec) or reports `periodicSync` (nim); 0 = never. */
  syncIntervalMs: number;
  /** SDS-R repair on or off. */
  repairEnabled: boolean;
  /** SDS-R T_min: earliest a missing message is asked for after it is found missing. */
  repairTMinMs: number;
  /** SDS-R T_max: upper bound of the request and response back-off windows (spec 120 s, nim 300 s). */
  repairTMaxMs: number;
  /** SDS-R response groups (1 = everyone may answer). */
  repairResponseGroups: number;
  /** Repair requests attached to one outgoing message (3 in both references). */
  maxRepairRequests: number;
  /** Times one missing message is asked for before `repairAbandoned` (ours; both references ask once). */
  repairAttemptsMax: number;
  /** Rebroadcasts answered in one `tick`, across all channels of a manager's call (ours; bounds amplification). */
  repairResponsesPerTickMax: number;
  /** Rebroadcasts of one message id within one T_max window (ours; bounds amplification). */
  repairResponsesPerMessageMax: number;
  /** Cap of the outgoing (unacknowledged) buffer; the oldest is reported `undelivered` and evicted. */
  outgoingBufferEntriesMax: number;
  /** Cap of the incoming (waiting-for-dependencies) buffer; the oldest is evicted with an event. */
  incomingBufferEntriesMax: number;
  /** Cap of each SDS-R buffer (js-waku `bufferSize` 1,000). */
  repairBufferEntriesMax: number;
  /** A received lamport value may pull the local clock at most this far past `now` (ours). */
  maxFutureSkewMs: number;
  /** `unique` = keccak256(senderId ‖ timestampNs ‖ payload) hex (Reliable Channel API); `content` = sha256(payload) hex (js-waku). */
  messageIdMode: MessageIdMode;
  /** Largest payload `send` accepts (nim-sds MaxMessageSize = 1 MiB). */
  contentBytesMax: number;
  /** Largest wire message `receive` decodes. */
  wireBytesMax: number;
}

const SHARED_DEFAULTS = {
  bloomCapacity: 10_000,
  bloomErrorRate: 0.001,
  lostMessageTimeoutMs: null,
  syncIntervalMs: 30_000,
  repairEnabled: true,
  repairTMinMs: 30_000,
  repairResponseGroups: 1,
  maxRepairRequests: 3,
  repairAttemptsMax: 10,
  repairResponsesPerTickMax: 32,
  repairResponsesPerMessageMax: 2,
  incomingBufferEntriesMax: 10_000,
  repairBufferEntriesMax: 1_000,
  maxFutureSkewMs: 600_000,
  messageIdMode: "unique",
  contentBytesMax: 1024 * 1024,
  wireBytesMax: 4 * 1024 * 1024,
} as const satisfies Partial<SdsConfig>;

/** Defaults of the `spec` dialect (LIP-109 and js-waku `@waku/sds` / Reliable Channel). */
export const SPEC_DEFAULTS: Readonly<SdsConfig> = Object.freeze({
  ...SHARED_DEFAULTS,
  causalHistorySize: 200,
  historyEntriesMax: 10_000,
  bloomAckThreshold: 2,
  resendIntervalMs: 30_000,
  maxResendAttempts: 10,
  repairTMaxMs: 120_000,
  outgoingBufferEntriesMax: 10_000,
});

/** Defaults of the `nim` dialect (nim-sds `defaultConfig()`). */
export const NIM_DEFAULTS: Readonly<SdsConfig> = Object.freeze({
  ...SHARED_DEFAULTS,
  causalHistorySize: 10,
  historyEntriesMax: 1_000,
  bloomAckThreshold: 1,
  resendIntervalMs: 60_000,
  maxResendAttempts: 5,
  repairTMaxMs: 300_000,
  outgoingBufferEntriesMax: 10_000,
});

/** The defaults of a dialect. */
export function defaultConfig(dialect: DialectName): Readonly<SdsConfig> {
  return dialect === "nim" ? NIM_DEFAULTS : SPEC_DEFAULTS;
}

const POSITIVE_INTEGERS: ReadonlyArray<keyof SdsConfig> = [
  "historyEntriesMax", "bloomCapacity", "bloomAckThreshold", "resendIntervalMs", "outgoingBufferEntriesMax",
  "incomingBufferEntriesMax", "repairBufferEntriesMax", "contentBytesMax", "wireBytesMax", "repairResponseGroups", "repairAttemptsMax",
];
const NON_NEGATIVE_INTEGERS: ReadonlyArray<keyof SdsConfig> = [
  "causalHistorySize", "maxResendAttempts", "syncIntervalMs", "repairTMinMs", "repairTMaxMs", "maxRepairRequests",
  "repairResponsesPerTickMax", "repairResponsesPerMessageMax", "maxFutureSkewMs",
];

function invalid(field: string, value: unknown, rule: string): SdsError {
  return new SdsError("E_CONFIG_INVALID", `config ${field} = ${String(value)}: ${rule}`, { field, value: String(value) });
}

/**
 * The dialect's defaults overlaid with `partial`, validated.
 * @throws SdsError `E_CONFIG_INVALID` naming the first bad field.
 */
export function resolveConfig(dialect: DialectName, partial: Partial<SdsConfig> = {}): SdsConfig {
  const config: SdsConfig = { ...defaultConfig(dialect) };
  for (const [key, value] of Object.entries(partial)) {
    if (value === undefined) continue;
    if (!(key in config)) throw invalid(key, value, "unknown setting");
    (config as unknown as Record<string, unknown>)[key] = value;
  }
  for (const field of POSITIVE_INTEGERS) {
    const value = config[field];
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) throw invalid(field, value, "must be a positive integer");
  }
  for (const field of NON_NEGATIVE_INTEGERS) {
    const value = config[field];
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) throw invalid(field, value, "must be a non-negative integer");
  }
  if (!(config.bloomErrorRate > 0 && config.bloomErrorRate < 1)) throw invalid("bloomErrorRate", config.bloomErrorRate, "must be in (0, 1)");
  if (config.repairTMaxMs < config.repairTMinMs) throw invalid("repairTMaxMs", config.repairTMaxMs, "must be ≥ repairTMinMs");
  const lost = config.lostMessageTimeoutMs;
  if (lost !== null && (!Number.isSafeInteger(lost) || lost <= 0)) throw invalid("lostMessageTimeoutMs", lost, "must be null or a positive integer");
  if (config.messageIdMode !== "unique" && config.messageIdMode !== "content") throw invalid("messageIdMode", config.messageIdMode, "must be unique or content");
  if (typeof config.repairEnabled !== "boolean") throw invalid("repairEnabled", config.repairEnabled, "must be a boolean");
  return config;
}
