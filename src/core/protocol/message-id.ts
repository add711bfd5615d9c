/**
 * Message ids. js-waku (`MessageChannel.getMessageId`) and the first Nim Reliable Channel
 * derive the id from the content alone, `hex(sha256(payload))`, so two sends of the same
 * payload share an id (and the second is taken for a retry). The Reliable Channel API spec
 * and logos-delivery use `hex(keccak256(utf8(senderId) ‖ utf8(decimal timestampNs) ‖ payload))`
 * (research/reliable-channel.md §1.6), unique per sender and send time. Lowercase hex, no 0x.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { keccak256 } from "./hash/keccak256.js";

const encoder = new TextEncoder();
const HEX_BYTES = Array.from({ length: 256 }, (_, value) => value.toString(16).padStart(2, "0"));

function toHex(bytes: Uint8Array): string {
  let text = "";
  for (let index = 0; index < bytes.length; index++) text += HEX_BYTES[bytes[index]!]!;
  return text;
}

/**
 * Content-derived id as js-waku computes it: lowercase hex of sha256(payload), 64 characters.
 * Identical payloads get identical ids — use it for `spec`-dialect interop.
 */
export function contentMessageId(payload: Uint8Array): string {
  return toHex(sha256(payload));
}

/**
 * Unique id of the Reliable Channel API spec (logos-delivery): lowercase hex of
 * keccak256(utf8(senderId) ‖ utf8(timestampNs as a decimal string, no sign for ≥ 0) ‖ payload),
 * 64 characters. `timestampNs` is Unix time in nanoseconds; it must be a non-negative integer.
 * Keccak-256 is the original (Ethereum) padding, not SHA3-256.
 */
export function uniqueMessageId(senderId: string, timestampNs: bigint, payload: Uint8Array): string {
  if (timestampNs < 0n) throw new RangeError(`timestampNs must be non-negative (got ${timestampNs})`);
  const sender = encoder.encode(senderId);
  const timestamp = encoder.encode(timestampNs.toString(10));
  const input = new Uint8Array(sender.length + timestamp.length + payload.length);
  input.set(sender, 0);
  input.set(timestamp, sender.length);
  input.set(payload, sender.length + timestamp.length);
  return toHex(keccak256(input));
}
