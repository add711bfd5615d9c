/**
 * Strict UTF-8 for protobuf `string` fields. `@waku/sds` (protons-runtime) decodes strings
 * with a hand-rolled reader that never rejects anything and silently mangles invalid bytes;
 * nim-sds treats strings as raw bytes. We reject invalid UTF-8 with `E_DECODE_UTF8` naming
 * the field and offset, and refuse to encode ill-formed strings (lone surrogates), which
 * protons would write as invalid 3-byte sequences and TextEncoder would silently replace.
 */
import { DecodeError, SdsError } from "../../errors.js";

const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();
/** A high surrogate not followed by a low one, or a low surrogate not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Decodes UTF-8 strictly; a leading BOM is kept as U+FEFF, never stripped. */
export function decodeUtf8(bytes: Uint8Array, where: { field: string; offset: number }): string {
  if (bytes.length === 0) return "";
  try {
    return strictDecoder.decode(bytes);
  } catch {
    throw new DecodeError("E_DECODE_UTF8", "string is not valid UTF-8", where, { lengthBytes: bytes.length });
  }
}

/** Encodes a string as UTF-8; ill-formed strings (lone surrogates) are refused. */
export function encodeUtf8(value: string, field: string): Uint8Array {
  if (LONE_SURROGATE.test(value)) {
    throw new SdsError("E_INPUT_INVALID", `${field} contains a lone UTF-16 surrogate and cannot be written as UTF-8`, { field });
  }
  return encoder.encode(value);
}
