/**
 * Public API of the SDS wire codecs: encode and decode `SdsMessage`s in either dialect
 * (`spec` = LIP-109 / `@waku/sds`, `nim` = nim-sds), detect the dialect of a blob, and
 * classify a message as `@waku/sds` does. Decoders take explicit limits and throw only
 * `DecodeError`, whatever the bytes. Schema-less dumps and annotated trees for display
 * live in `dump.ts` and `annotate.ts`.
 */
import { DecodeError, SdsError } from "../../errors.js";
import type { DialectName, MessageKind, SdsMessage } from "../types.js";
import { type DialectDetection, detectWithResults } from "./detect.js";
import { type DecodeLimits, checkLimit, resolveLimits } from "./limits.js";
import { decodeNim, encodeNim } from "./nim.js";
import { decodeSpec, encodeSpec } from "./spec.js";

export type { DialectDetection } from "./detect.js";
export { type DecodeLimits, DEFAULT_DECODE_LIMITS } from "./limits.js";
export { type AnnotatedField, annotateMessage } from "./annotate.js";
export { type DumpNode, type DumpOptions, type DumpResult, dumpProtobuf } from "./dump.js";

/** Every dialect name, for flag parsing and iteration. */
export const DIALECTS: readonly DialectName[] = ["spec", "nim"];

/** Options of {@link decodeMessage}. */
export interface DecodeMessageOptions {
  /** Dialect to decode as; `auto` (the default) detects it. */
  dialect?: DialectName | "auto";
  /** Overrides for {@link DEFAULT_DECODE_LIMITS}. */
  limits?: Partial<DecodeLimits>;
  /** Absolute offset of `bytes[0]` in an outer frame (an envelope), for error offsets (default 0). */
  baseOffset?: number;
}

/** A decoded message with the dialect it was decoded as and how that was decided. */
export interface DecodedWithDialect {
  message: SdsMessage;
  dialect: DialectName;
  detection: DialectDetection;
}

const UINT64_MAX = (1n << 64n) - 1n;

/**
 * Encodes `message` in `dialect`, byte-identical to that dialect's reference encoder.
 * Throws `SdsError("E_INPUT_INVALID")` for messages the dialect cannot carry (a lamport
 * timestamp outside uint64, no lamport in nim, strings with lone surrogates).
 */
export function encodeMessage(message: SdsMessage, options: { dialect: DialectName }): Uint8Array {
  const lamport = message.lamportTimestamp;
  if (lamport != null && (typeof lamport !== "bigint" || lamport < 0n || lamport > UINT64_MAX)) {
    throw new SdsError("E_INPUT_INVALID", `lamportTimestamp must be a bigint in 0..2^64-1, got ${String(lamport)}`, { field: "lamportTimestamp" });
  }
  if (options.dialect === "nim") return encodeNim(message);
  if (options.dialect === "spec") return encodeSpec(message);
  throw new SdsError("E_USAGE", `unknown dialect ${String(options.dialect)}`, { dialect: String(options.dialect) });
}

function checkInput(bytes: unknown, limits: DecodeLimits, baseOffset: number): asserts bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array)) {
    throw new DecodeError("E_DECODE_INVALID", "input is not a Uint8Array", { field: "SdsMessage", offset: baseOffset });
  }
  checkLimit("wireBytesMax", bytes.length, limits.wireBytesMax, { field: "SdsMessage", offset: baseOffset + limits.wireBytesMax });
}

/**
 * Decodes an SDS message together with its dialect. With `dialect: "auto"` (default) both
 * decoders run; when neither succeeds the error of the dialect the markers point to (else
 * the one that got further) is thrown. Throws `DecodeError` only.
 */
export function decodeMessageWithDialect(bytes: Uint8Array, options: DecodeMessageOptions = {}): DecodedWithDialect {
  let limits: DecodeLimits;
  try {
    limits = resolveLimits(options.limits);
  } catch (error) {
    throw new DecodeError("E_DECODE_INVALID", error instanceof Error ? error.message : String(error), { field: "limits", offset: 0 });
  }
  const baseOffset = options.baseOffset ?? 0;
  checkInput(bytes, limits, baseOffset);
  const dialect = options.dialect ?? "auto";
  if (dialect === "spec" || dialect === "nim") {
    const message = dialect === "spec" ? decodeSpec(bytes, limits, baseOffset) : decodeNim(bytes, limits, baseOffset);
    return { message, dialect, detection: { dialect, confidence: "certain", reason: `dialect ${dialect} was requested` } };
  }
  if (dialect !== "auto") throw new DecodeError("E_DECODE_DIALECT", `unknown dialect ${String(dialect)}`, { field: "dialect", offset: 0 });
  const { detection, results } = detectWithResults(bytes, limits, baseOffset);
  if (detection.dialect !== undefined) {
    const result = results[detection.dialect];
    if ("message" in result) return { message: result.message, dialect: detection.dialect, detection };
    throw result.error;
  }
  if (bytes.length === 0) throw new DecodeError("E_DECODE_DIALECT", "empty input is not an SDS message in any dialect", { field: "SdsMessage", offset: baseOffset });
  const specError = (results.spec as { error: DecodeError }).error;
  const nimError = (results.nim as { error: DecodeError }).error;
  throw nimError.offset > specError.offset ? nimError : specError;
}

/** Decodes an SDS message (see {@link decodeMessageWithDialect}). Throws `DecodeError` only. */
export function decodeMessage(bytes: Uint8Array, options: DecodeMessageOptions = {}): SdsMessage {
  return decodeMessageWithDialect(bytes, options).message;
}

/**
 * Detects the dialect of `bytes` without throwing: `certain` when only one dialect decodes
 * them and they carry a field only that dialect has, `likely` when only one decodes them,
 * `unknown` when neither does (the reason then names both errors).
 */
export function detectDialect(bytes: Uint8Array, limits?: Partial<DecodeLimits>): DialectDetection {
  if (!(bytes instanceof Uint8Array)) return { dialect: undefined, confidence: "unknown", reason: "input is not a Uint8Array" };
  let resolved: DecodeLimits;
  try {
    resolved = resolveLimits(limits);
  } catch (error) {
    return { dialect: undefined, confidence: "unknown", reason: error instanceof Error ? error.message : String(error) };
  }
  if (bytes.length > resolved.wireBytesMax) {
    return { dialect: undefined, confidence: "unknown", reason: `input is ${bytes.length} bytes, above wireBytesMax = ${resolved.wireBytesMax}` };
  }
  return detectWithResults(bytes, resolved).detection;
}

/**
 * Classifies a message as `@waku/sds` `Message.decode` does: `content` = lamport set and
 * content non-empty; `ephemeral` = no lamport and content non-empty; `sync` = lamport set
 * and content absent or empty; anything else (no lamport, no content) is `invalid`.
 */
export function classifyMessage(message: SdsMessage): MessageKind {
  const hasContent = message.content != null && message.content.length > 0;
  if (typeof message.lamportTimestamp === "bigint") return hasContent ? "content" : "sync";
  return hasContent ? "ephemeral" : "invalid";
}
