/**
 * Wire dialect detection. The two dialects share field numbers with different meanings
 * (field 2 is the spec `message_id` string but the nim `lamport_timestamp` varint), so a
 * strict decoder of one rejects the other's messages. Detection scans the top-level keys
 * for markers only one dialect uses, tries both decoders, and says which rule decided and
 * how sure it is. Pure and total: it never throws on any input.
 */
import { DecodeError } from "../../errors.js";
import type { DialectName, SdsMessage } from "../types.js";
import type { DecodeLimits } from "./limits.js";
import { decodeNim } from "./nim.js";
import { ProtoReader, WireType } from "./proto.js";
import { decodeSpec } from "./spec.js";

/** The outcome of {@link detectDialect}. */
export interface DialectDetection {
  /** The dialect the bytes decode as, or the most plausible one when they decode as neither; undefined when nothing points anywhere. */
  dialect: DialectName | undefined;
  /** `certain`: decodes as one dialect only and carries a marker of it; `likely`: decodes as one only; `unknown`: decodes as neither. */
  confidence: "certain" | "likely" | "unknown";
  /** Which rule fired, in words (shown by `sds decode`). */
  reason: string;
}

/** Detection plus the decode results it computed on the way, so callers need not decode twice. */
export interface DetectionOutcome {
  detection: DialectDetection;
  results: Record<DialectName, { message: SdsMessage } | { error: DecodeError }>;
}

interface Markers {
  spec: string[];
  nim: string[];
}

/** Scans top-level keys until the first malformed one, noting fields only one dialect has. */
function scanMarkers(bytes: Uint8Array): Markers {
  const field2 = new Set<number>();
  const only: Record<DialectName, Set<number>> = { spec: new Set(), nim: new Set() };
  const reader = new ProtoReader(bytes);
  try {
    while (!reader.eof()) {
      const tag = reader.readTag();
      if (tag.field === 2) field2.add(tag.wireType);
      else if (tag.field === 10 || tag.field === 11 || tag.field === 12 || tag.field === 20) only.spec.add(tag.field);
      else if (tag.field >= 4 && tag.field <= 7) only.nim.add(tag.field);
      reader.skip(tag.wireType);
    }
  } catch (error) {
    if (!(error instanceof DecodeError)) throw error;
  }
  const markers: Markers = { spec: [], nim: [] };
  if (field2.has(WireType.Varint)) markers.nim.push("field 2 is a varint (nim lamport_timestamp)");
  if (field2.has(WireType.LengthDelimited)) markers.spec.push("field 2 is length-delimited (spec message_id)");
  for (const dialect of ["spec", "nim"] as const) {
    if (only[dialect].size > 0) markers[dialect].push(`${dialect}-only field${only[dialect].size > 1 ? "s" : ""} ${[...only[dialect]].join(", ")}`);
  }
  return markers;
}

function attempt(decode: () => SdsMessage): { message: SdsMessage } | { error: DecodeError } {
  try {
    return { message: decode() };
  } catch (error) {
    if (error instanceof DecodeError) return { error };
    throw error;
  }
}

function describeError(error: DecodeError): string {
  return `${error.code} at byte ${error.offset}, ${error.field}`;
}

/** Detects the dialect of `bytes` and keeps both decode attempts. */
export function detectWithResults(bytes: Uint8Array, limits: DecodeLimits, baseOffset = 0): DetectionOutcome {
  const results = {
    spec: attempt(() => decodeSpec(bytes, limits, baseOffset)),
    nim: attempt(() => decodeNim(bytes, limits, baseOffset)),
  };
  if (bytes.length === 0) {
    return { results, detection: { dialect: undefined, confidence: "unknown", reason: "empty input: no fields to tell the dialects apart" } };
  }
  const markers = scanMarkers(bytes);
  const specOk = "message" in results.spec;
  const nimOk = "message" in results.nim;
  if (specOk !== nimOk) {
    const dialect: DialectName = specOk ? "spec" : "nim";
    const other: DialectName = specOk ? "nim" : "spec";
    const own = markers[dialect];
    const confidence = own.length > 0 && markers[other].length === 0 ? "certain" : "likely";
    const otherError = results[other] as { error: DecodeError };
    const why = own.length > 0 ? `; ${own.join("; ")}` : "";
    return { results, detection: { dialect, confidence, reason: `decodes only as ${dialect} (as ${other}: ${describeError(otherError.error)})${why}` } };
  }
  if (specOk && nimOk) {
    return { results, detection: { dialect: "spec", confidence: "likely", reason: "decodes as both dialects; spec preferred" } };
  }
  const specError = (results.spec as { error: DecodeError }).error;
  const nimError = (results.nim as { error: DecodeError }).error;
  const lean: DialectName | undefined = markers.nim.length > markers.spec.length ? "nim" : markers.spec.length > markers.nim.length ? "spec" : undefined;
  const leanText = lean ? `; markers point to ${lean}: ${markers[lean].join("; ")}` : "";
  return {
    results,
    detection: { dialect: lean, confidence: "unknown", reason: `decodes as neither dialect (spec: ${describeError(specError)}; nim: ${describeError(nimError)})${leanText}` },
  };
}
