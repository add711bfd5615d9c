/**
 * The order-preserving key codec of the logos-delivery persistency layer (`keys.nim`,
 * research/reliable-channel.md §6.4), so rows written here sort, scan and read the same as
 * theirs: strings and byte strings are a 2-byte big-endian length then the bytes; signed
 * integers are sign-flipped 8-byte big-endian; unsigned integers 8-byte big-endian; bytes
 * and booleans one byte; composite keys are parts concatenated. Because of the length
 * prefix, strings sort by length first (`"" < "b" < "aa"`) and `toKey("ch1")` is never a
 * byte prefix of a key under `"ch10"`, so prefix scans are exact per component.
 */
import { SdsError } from "../errors.js";

/** Longest string or byte string one key part can hold (2-byte length prefix). */
export const KEY_PART_BYTES_MAX = 0xffff;

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const UINT64_MAX = (1n << 64n) - 1n;
const SIGN_BIT = 1n << 63n;
const utf8 = new TextEncoder();

function lengthPrefixed(bytes: Uint8Array, what: string): Uint8Array {
  if (bytes.length > KEY_PART_BYTES_MAX) {
    throw new SdsError("E_INPUT_INVALID", `${what} is ${bytes.length} bytes, above the key part limit of ${KEY_PART_BYTES_MAX}`, { lengthBytes: bytes.length, max: KEY_PART_BYTES_MAX });
  }
  const out = new Uint8Array(2 + bytes.length);
  out[0] = bytes.length >> 8;
  out[1] = bytes.length & 0xff;
  out.set(bytes, 2);
  return out;
}

/**
 * The length-prefixed bytes of an ASCII string (message ids are hex), written without a
 * TextEncoder call and its intermediate array; undefined when any character is not ASCII
 * (the caller then takes the UTF-8 path, which gives the same bytes for ASCII).
 */
function asciiLengthPrefixed(value: string): Uint8Array | undefined {
  if (value.length > KEY_PART_BYTES_MAX) return undefined;
  const out = new Uint8Array(2 + value.length);
  out[0] = value.length >> 8;
  out[1] = value.length & 0xff;
  for (let index = 0; index < value.length; index++) {
    const code = value.charCodeAt(index);
    if (code >= 0x80) return undefined;
    out[2 + index] = code;
  }
  return out;
}

function uint64BigEndian(value: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, value, false);
  return out;
}

/**
 * Encoders for one key part each. Out-of-range numbers are a caller bug (`RangeError`);
 * an over-long string is input we were given (`SdsError E_INPUT_INVALID`).
 */
export const keyPart = {
  /** UTF-8 string: u16be byte length, then the bytes. */
  string(value: string): Uint8Array {
    return asciiLengthPrefixed(value) ?? lengthPrefixed(utf8.encode(value), "key string");
  },
  /** Byte string: u16be length, then the bytes. */
  bytes(value: Uint8Array): Uint8Array {
    return lengthPrefixed(value, "key bytes");
  },
  /** Signed 64-bit integer: `uint64(v) XOR 2^63`, 8 bytes big-endian (negatives sort first). */
  int64(value: bigint | number): Uint8Array {
    const big = BigInt(value);
    if (big < INT64_MIN || big > INT64_MAX) throw new RangeError(`int64 key part out of range: ${big}`);
    return uint64BigEndian(BigInt.asUintN(64, big) ^ SIGN_BIT);
  },
  /** Unsigned 64-bit integer, 8 bytes big-endian. */
  uint64(value: bigint | number): Uint8Array {
    const big = BigInt(value);
    if (big < 0n || big > UINT64_MAX) throw new RangeError(`uint64 key part out of range: ${big}`);
    return uint64BigEndian(big);
  },
  /** An enum by its ordinal, encoded as a signed 64-bit integer (as `keys.nim` does). */
  enumOrdinal(ordinal: number): Uint8Array {
    return keyPart.int64(ordinal);
  },
  /** One raw byte (`byte`, `uint8`, `char`). */
  byte(value: number): Uint8Array {
    if (!Number.isInteger(value) || value < 0 || value > 255) throw new RangeError(`byte key part out of range: ${value}`);
    return Uint8Array.of(value);
  },
  /** One byte, 0 or 1. */
  bool(value: boolean): Uint8Array {
    return Uint8Array.of(value ? 1 : 0);
  },
  /** A pre-built key embedded verbatim (a prefix). */
  raw(value: Uint8Array): Uint8Array {
    return value;
  },
} as const;

/** Concatenates encoded parts into one key (`key(a, b, …)` in `keys.nim`). */
export function key(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** The key of a single string (`toKey(channelId)`): the key of `sds.meta` rows. */
export function toKey(value: string): Uint8Array {
  return keyPart.string(value);
}

/** A half-open key range; `stop` undefined means no upper bound. */
export interface KeyRange {
  start: Uint8Array;
  stop: Uint8Array | undefined;
}

/**
 * The range of every key starting with `prefix`: `[prefix, succ(prefix))`, where `succ`
 * increments the last byte that is not 0xFF and drops what follows it; a prefix of only
 * 0xFF bytes (or an empty one) has no upper bound.
 */
export function prefixRange(prefix: Uint8Array): KeyRange {
  for (let index = prefix.length - 1; index >= 0; index--) {
    const byte = prefix[index] as number;
    if (byte !== 0xff) {
      const stop = prefix.slice(0, index + 1);
      stop[index] = byte + 1;
      return { start: prefix.slice(), stop };
    }
  }
  return { start: prefix.slice(), stop: undefined };
}

/** Byte-wise lexicographic comparison (a shorter key that is a prefix sorts first), as SQLite compares BLOBs. */
export function compareKeys(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let index = 0; index < length; index++) {
    const difference = (a[index] as number) - (b[index] as number);
    if (difference !== 0) return difference < 0 ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/**
 * Splits a key made only of length-prefixed strings (`key(channelId, messageId)`) back into
 * its strings. Returns `undefined` when the bytes are not such a key (a length runs past the
 * end, or the bytes are not UTF-8), which is how inspection tells a malformed key.
 */
export function decodeStringKey(bytes: Uint8Array, partsMax = 8): string[] | undefined {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const parts: string[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (parts.length >= partsMax || at + 2 > bytes.length) return undefined;
    const length = ((bytes[at] as number) << 8) | (bytes[at + 1] as number);
    at += 2;
    if (at + length > bytes.length) return undefined;
    try {
      parts.push(decoder.decode(bytes.subarray(at, at + length)));
    } catch {
      return undefined;
    }
    at += length;
  }
  return parts;
}
