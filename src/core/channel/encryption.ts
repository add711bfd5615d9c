/**
 * Optional channel encryption: AES-256-GCM with a 32-byte channel key in the js-waku symmetric
 * layout (research/reliable-channel.md §4.2): `ciphertext ‖ 16-byte tag ‖ 12-byte iv`. The
 * plaintext is framed as 26/WAKU-PAYLOAD (`flags ‖ length LE ‖ payload ‖ padding to a multiple
 * of 256`, unsigned), so js-waku symmetric decoders can read our payloads and the padding hides
 * exact sizes; `framing: "raw"` skips it. A wrong key or tampered bytes give a typed
 * `E_DECRYPT_FAILED`, never a crash. Keys parse from hex, base64, or (weak) a passphrase.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { sha256 } from "@noble/hashes/sha2.js";
import { SdsError } from "../errors.js";

/** AES-256 key length. */
export const CHANNEL_KEY_BYTES = 32;
/** GCM nonce length used by js-waku. */
export const GCM_IV_BYTES = 12;
/** GCM authentication tag length. */
export const GCM_TAG_BYTES = 16;
/** 26/WAKU-PAYLOAD pads the framed plaintext to a multiple of this. */
export const PADDING_TARGET_BYTES = 256;
/** Largest payload the 26/WAKU-PAYLOAD framing can describe (3-byte length field; js-waku mis-flags 4). */
export const FRAMED_PAYLOAD_BYTES_MAX = 0xff_ffff;
const FLAGS_LENGTH_MASK = 0x03;
const FLAGS_SIGNED_MASK = 0x04;

/** Plaintext framing inside the ciphertext. */
export type EncryptionFraming = "waku-payload" | "raw";

/** Options of a {@link ChannelCipher}. */
export interface ChannelCipherOptions {
  /** Plaintext framing (default `"waku-payload"`, what js-waku symmetric encoders write). */
  framing?: EncryptionFraming;
  /** Source of IVs and padding bytes (default `node:crypto` randomBytes); inject for tests. */
  randomBytes?: (length: number) => Uint8Array;
}

function decryptFailed(message: string, details: Record<string, unknown> = {}): SdsError {
  return new SdsError("E_DECRYPT_FAILED", message, details);
}

/** Bytes needed for the 26/WAKU-PAYLOAD length field of `length` (1..3). */
function lengthFieldBytes(length: number): number {
  return length < 0x100 ? 1 : length < 0x1_0000 ? 2 : 3;
}

/** Frames `payload` as unsigned 26/WAKU-PAYLOAD: flags, little-endian length, payload, 1..256 padding bytes. */
export function frameWakuPayload(payload: Uint8Array, random: (length: number) => Uint8Array): Uint8Array {
  if (payload.length > FRAMED_PAYLOAD_BYTES_MAX) {
    throw new SdsError("E_PAYLOAD_TOO_LARGE", `${payload.length} bytes exceed the ${FRAMED_PAYLOAD_BYTES_MAX}-byte framing limit`, { payloadBytes: payload.length });
  }
  const fieldBytes = lengthFieldBytes(payload.length);
  const rawBytes = 1 + fieldBytes + payload.length;
  const paddingBytes = PADDING_TARGET_BYTES - (rawBytes % PADDING_TARGET_BYTES); // js-waku always pads, 1..256
  const framed = new Uint8Array(rawBytes + paddingBytes);
  framed[0] = fieldBytes;
  for (let index = 0; index < fieldBytes; index++) framed[1 + index] = (payload.length >>> (8 * index)) & 0xff;
  framed.set(payload, 1 + fieldBytes);
  framed.set(random(paddingBytes).subarray(0, paddingBytes), rawBytes);
  return framed;
}

/** Reads the payload out of a 26/WAKU-PAYLOAD frame; a signed frame's signature is ignored. */
export function unframeWakuPayload(framed: Uint8Array): Uint8Array {
  if (framed.length < 1) throw decryptFailed("framed plaintext is empty");
  const fieldBytes = (framed[0] as number) & FLAGS_LENGTH_MASK;
  if (fieldBytes === 0) throw decryptFailed("framed plaintext has no length field", { flags: framed[0] });
  if (framed.length < 1 + fieldBytes) throw decryptFailed("framed plaintext shorter than its length field");
  let length = 0;
  for (let index = 0; index < fieldBytes; index++) length += (framed[1 + index] as number) * 2 ** (8 * index);
  const signatureBytes = ((framed[0] as number) & FLAGS_SIGNED_MASK) !== 0 ? 65 : 0;
  if (1 + fieldBytes + length + signatureBytes > framed.length) {
    throw decryptFailed(`framed length ${length} runs past the ${framed.length}-byte plaintext`, { lengthBytes: length });
  }
  return framed.slice(1 + fieldBytes, 1 + fieldBytes + length);
}

/**
 * Encrypts and decrypts Reliable Channel wire bytes with one channel key. Stateless apart from
 * the key; safe to share between sends.
 */
export class ChannelCipher {
  private readonly key: Uint8Array;
  private readonly framing: EncryptionFraming;
  private readonly random: (length: number) => Uint8Array;

  constructor(key: Uint8Array, options: ChannelCipherOptions = {}) {
    if (key.length !== CHANNEL_KEY_BYTES) {
      throw new SdsError("E_CONFIG_INVALID", `channel key must be ${CHANNEL_KEY_BYTES} bytes, got ${key.length}`, { keyBytes: key.length });
    }
    this.key = key.slice();
    this.framing = options.framing ?? "waku-payload";
    this.random = options.randomBytes ?? ((length) => new Uint8Array(randomBytes(length)));
  }

  /** `ciphertext ‖ tag ‖ iv` of `plaintext` (framed per the cipher's framing). */
  encrypt(plaintext: Uint8Array): Uint8Array {
    const iv = this.random(GCM_IV_BYTES).subarray(0, GCM_IV_BYTES);
    if (iv.length !== GCM_IV_BYTES) throw new RangeError(`the IV source returned ${iv.length} bytes, needs ${GCM_IV_BYTES}`);
    const framed = this.framing === "waku-payload" ? frameWakuPayload(plaintext, this.random) : plaintext;
    const cipher = createCipheriv("aes-256-gcm", this.key, iv, { authTagLength: GCM_TAG_BYTES });
    const body = Buffer.concat([cipher.update(framed), cipher.final()]);
    const out = new Uint8Array(body.length + GCM_TAG_BYTES + GCM_IV_BYTES);
    out.set(body, 0);
    out.set(cipher.getAuthTag(), body.length);
    out.set(iv, body.length + GCM_TAG_BYTES);
    return out;
  }

  /** Plaintext of `sealed`; throws `E_DECRYPT_FAILED` for a wrong key, tampering or bad framing. */
  decrypt(sealed: Uint8Array): Uint8Array {
    if (sealed.length < GCM_TAG_BYTES + GCM_IV_BYTES) {
      throw decryptFailed(`ciphertext of ${sealed.length} bytes is shorter than tag + iv`, { sealedBytes: sealed.length });
    }
    const ivStart = sealed.length - GCM_IV_BYTES;
    const tagStart = ivStart - GCM_TAG_BYTES;
    let framed: Uint8Array;
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.key, sealed.subarray(ivStart), { authTagLength: GCM_TAG_BYTES });
      decipher.setAuthTag(sealed.subarray(tagStart, ivStart));
      framed = new Uint8Array(Buffer.concat([decipher.update(sealed.subarray(0, tagStart)), decipher.final()]));
    } catch (cause) {
      throw new SdsError("E_DECRYPT_FAILED", "authentication failed: wrong channel key or tampered bytes", { sealedBytes: sealed.length }, { cause });
    }
    return this.framing === "waku-payload" ? unframeWakuPayload(framed) : framed;
  }
}

/** How a channel key was given. */
export type ChannelKeyFormat = "hex" | "base64" | "passphrase";

/**
 * Parses a channel key for `--key` / `SDS_CHANNEL_KEY`: 64 hex digits (optional `0x`), or base64
 * of 32 bytes, or `pass:TEXT` meaning `sha256(TEXT)`. The passphrase form is WEAK (no salt, no
 * work factor: a guessable phrase gives a guessable key); it exists for demos. Anything else is
 * `E_CONFIG_INVALID`.
 */
export function parseChannelKey(text: string): { key: Uint8Array; format: ChannelKeyFormat } {
  const trimmed = text.trim();
  if (trimmed.startsWith("pass:")) {
    const phrase = trimmed.slice(5);
    if (phrase.length === 0) throw new SdsError("E_CONFIG_INVALID", "empty passphrase after pass:");
    return { key: sha256(new TextEncoder().encode(phrase)), format: "passphrase" };
  }
  const hexText = trimmed.replace(/^0x/i, "");
  if (/^[0-9a-fA-F]{64}$/.test(hexText)) return { key: new Uint8Array(Buffer.from(hexText, "hex")), format: "hex" };
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) {
    const decoded = Buffer.from(trimmed.replace(/-/g, "+").replace(/_/g, "/"), "base64");
    if (decoded.length === CHANNEL_KEY_BYTES) return { key: new Uint8Array(decoded), format: "base64" };
  }
  throw new SdsError(
    "E_CONFIG_INVALID",
    "channel key must be 64 hex digits, base64 of 32 bytes, or pass:PASSPHRASE (weak: sha256 of the passphrase)",
    { keyCharacters: trimmed.length },
  );
}
