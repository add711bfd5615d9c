/**
 * SDS-R (repair) timing maths for both dialects (research/sds-protocol.md §4.7). The spec
 * fixes the formulas but not the hash: js-waku (`spec`) uses the first 8 bytes of
 * sha256(utf8(x)) as a big-endian uint64 with full BigInt products; nim-sds (`nim`) uses Nim's
 * `hash(string)` (FarmHash64, signed) with `abs` and reduces modulo T before multiplying.
 * Pairs are hashed as the plain concatenation `participantId + messageId`. All results are
 * offsets in milliseconds from "now"; the caller adds its injected clock. Pure.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { nimHash } from "./hash/farmhash64.js";
import type { DialectName } from "./types.js";

/** Participants per response group (js-waku `PARTICIPANTS_PER_RESPONSE_GROUP`, the spec's 128). */
export const PARTICIPANTS_PER_RESPONSE_GROUP = 128;

const encoder = new TextEncoder();
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** js-waku `hashToInteger`: first 8 bytes of sha256(utf8(text)), big-endian, unsigned 64-bit. */
export function specRepairHash(text: string): bigint {
  const digest = sha256(encoder.encode(text));
  return new DataView(digest.buffer, digest.byteOffset, 8).getBigUint64(0, false);
}

/** nim-sds: Nim `hash(text)` = FarmHash64 of the UTF-8 bytes as a signed int64. */
export function nimRepairHash(text: string): bigint {
  return nimHash(text);
}

/** The dialect's SDS-R hash of `text` (spec: unsigned; nim: signed, callers take `abs`). */
export function repairHash(dialect: DialectName, text: string): bigint {
  return dialect === "nim" ? nimRepairHash(text) : specRepairHash(text);
}

const absolute = (value: bigint): bigint => (value < 0n ? -value : value);

function checkDurationMs(name: string, value: number): void {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${name} must be an integer number of milliseconds (got ${value})`);
}

/**
 * When to send a repair request for a missing message: offset T_req − now in ms, in
 * [tMinMs, tMaxMs). spec: `(h(p+m) mod (tMax−tMin)) + tMin`; nim: `(|h(p&m)| mod (tMax−tMin)) + tMin`.
 * If tMaxMs ≤ tMinMs the offset is tMinMs (nim's rule; js-waku would throw a division by zero).
 */
export function computeTReqOffsetMs(dialect: DialectName, participantId: string, messageId: string, tMinMs: number, tMaxMs: number): number {
  checkDurationMs("tMinMs", tMinMs);
  checkDurationMs("tMaxMs", tMaxMs);
  const rangeMs = tMaxMs - tMinMs;
  if (rangeMs <= 0) return tMinMs;
  const combined = participantId + messageId;
  if (dialect === "nim") return tMinMs + Number(absolute(nimRepairHash(combined)) % BigInt(rangeMs));
  return Number((specRepairHash(combined) % BigInt(rangeMs)) % MAX_SAFE) + tMinMs;
}

/**
 * How long a participant waits before answering a repair request: offset T_resp − now in
 * ms, in [0, tMaxMs). distance = h(participant) XOR h(sender); the original sender (distance
 * 0) answers at once. spec: `(distance · h(m)) mod tMax`; nim:
 * `((|distance| mod T) · (|h(m)| mod T)) mod T`. tMaxMs ≤ 0 gives 0.
 */
export function computeTRespOffsetMs(dialect: DialectName, participantId: string, senderId: string, messageId: string, tMaxMs: number): number {
  checkDurationMs("tMaxMs", tMaxMs);
  if (tMaxMs <= 0) return 0;
  const period = BigInt(tMaxMs);
  if (dialect === "nim") {
    const distance = absolute(nimRepairHash(participantId) ^ nimRepairHash(senderId));
    if (distance === 0n) return 0;
    const messageHash = absolute(nimRepairHash(messageId));
    return Number(((distance % period) * (messageHash % period)) % period);
  }
  const distance = specRepairHash(participantId) ^ specRepairHash(senderId);
  return Number(((distance * specRepairHash(messageId)) % period) % MAX_SAFE);
}

/**
 * Whether `participantId` answers repair requests for `messageId` sent by `senderId`:
 * true when both fall in the same of `numResponseGroups` groups
 * (`h(p+m) mod G == h(s+m) mod G`), always true for G ≤ 1. spec: an empty `senderId` is
 * never in the group (js-waku); nim computes it anyway (nim-sds checks the sender earlier).
 */
export function isInResponseGroup(dialect: DialectName, participantId: string, senderId: string, messageId: string, numResponseGroups: number): boolean {
  if (dialect === "spec" && senderId === "") return false;
  if (numResponseGroups <= 1) return true;
  const groups = BigInt(Math.floor(numResponseGroups));
  if (dialect === "nim") {
    return absolute(nimRepairHash(participantId + messageId)) % groups === absolute(nimRepairHash(senderId + messageId)) % groups;
  }
  return specRepairHash(participantId + messageId) % groups === specRepairHash(senderId + messageId) % groups;
}

/**
 * Number of response groups for `participants` channel members. spec: js-waku's
 * `max(1, ⌊n / 128⌋)`. nim: nim-sds has no rule (a config value, default 1); we use the
 * LIP-109 recommendation `⌊n / 128⌋ + 1`. Throws RangeError for a negative or fractional n.
 */
export function responseGroupCount(dialect: DialectName, participants: number): number {
  if (!Number.isSafeInteger(participants) || participants < 0) throw new RangeError(`participants must be a non-negative integer (got ${participants})`);
  const groups = Math.floor(participants / PARTICIPANTS_PER_RESPONSE_GROUP);
  return dialect === "nim" ? groups + 1 : Math.max(1, groups);
}
