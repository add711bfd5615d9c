/**
 * The Waku message envelope (14/WAKU2-MESSAGE layout, proto3 as `@waku/proto` writes it) that
 * carries SDS bytes over the relay, and its deterministic message hash (the retrieval hint).
 * Fields: payload 1, content_topic 2, version 3, timestamp 10 (sint64, zigzag, nanoseconds),
 * meta 11, ephemeral 31. `payload`/`contentTopic` are written only when non-empty; the optional
 * fields whenever they are set, so a decode → encode round trip is byte-exact for canonical
 * input. Unknown fields are skipped. No I/O, no clocks (sha256 from node:crypto).
 */
import { createHash } from "node:crypto";
import { DecodeError, SdsError } from "../errors.js";
import { ProtoReader, varintLength, WireType } from "../protocol/wire/proto.js";

/** A Waku message envelope. Absent optional fields are `undefined` (proto3 presence). */
export interface WakuEnvelope {
  /** The carried bytes (SDS message, segment, or ciphertext). May be empty. */
  payload: Uint8Array;
  /** `/<app>/<version>/<name>/<encoding>`; the relay routes by it. */
  contentTopic: string;
  /** Encryption scheme marker in js-waku (0 none, 1 asymmetric, 2 symmetric); uint32. */
  version?: number;
  /** Sender's Unix time in nanoseconds (signed 64-bit). */
  timestampNs?: bigint;
  /** Out-of-band marker bytes, e.g. `RELIABLE-CHANNEL-API/1`. */
  meta?: Uint8Array;
  /** Ephemeral envelopes are fanned out but never stored. */
  ephemeral?: boolean;
}

/** Limits for {@link decodeEnvelope}. */
export interface EnvelopeLimits {
  /** Whole encoded envelope (default 1 MiB + 64 KiB, Waku's message size ballpark). */
  envelopeBytesMax: number;
  /** UTF-8 bytes of the content topic (default 512). */
  contentTopicBytesMax: number;
  /** Bytes of `meta` (default 64, the 14/WAKU2-MESSAGE limit). */
  metaBytesMax: number;
}

/** Default envelope limits; the relay's `maxPayload` usually lowers `envelopeBytesMax`. */
export const DEFAULT_ENVELOPE_LIMITS: Readonly<EnvelopeLimits> = Object.freeze({
  envelopeBytesMax: 1024 * 1024 + 64 * 1024,
  contentTopicBytesMax: 512,
  metaBytesMax: 64,
});

/** The Reliable Channel wire marker logos-delivery puts in `meta` (research §1.2). */
export const RELIABLE_CHANNEL_META = "RELIABLE-CHANNEL-API/1";
/** {@link RELIABLE_CHANNEL_META} as bytes. */
export const RELIABLE_CHANNEL_META_BYTES: Uint8Array = new TextEncoder().encode(RELIABLE_CHANNEL_META);

/**
 * Pubsub topic the local relay hashes with: the historical Waku default topic. Every hash on one
 * relay uses the same string; the relay announces it in its WELCOME frame.
 */
export const DEFAULT_PUBSUB_TOPIC = "/waku/2/default-waku/proto";

const FIELD = { payload: 1, contentTopic: 2, version: 3, timestamp: 10, meta: 11, rateLimitProof: 21, ephemeral: 31 } as const;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const UINT32_MAX = 0xffff_ffff;
const CHANNEL_NAME = /^[A-Za-z0-9._~-]{1,128}$/;
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });
const TEXT_ENCODER = new TextEncoder();

/**
 * The content topic of an SDS channel: `/sds/1/<name>/proto`. Names are 1–128 characters of
 * `[A-Za-z0-9._~-]` so the topic keeps the four-part shape Waku nodes require.
 * @throws SdsError `E_INPUT_INVALID` for any other name.
 */
export function contentTopicFor(channelName: string): string {
  if (!CHANNEL_NAME.test(channelName)) {
    throw new SdsError("E_INPUT_INVALID", `invalid channel name ${JSON.stringify(channelName)}: use 1-128 of A-Z a-z 0-9 . _ ~ -`, { channelName });
  }
  return `/sds/1/${channelName}/proto`;
}

/** True when `topic` has the `/<app>/<version>/<name>/<encoding>` shape with non-empty parts. */
export function isContentTopic(topic: string): boolean {
  // Checked on every publish: a scan, no split. Four non-empty parts after a leading "/".
  if (topic.charCodeAt(0) !== 0x2f) return false;
  let slashes = 1;
  for (let index = 1; index < topic.length; index++) {
    if (topic.charCodeAt(index) !== 0x2f) continue;
    if (index === topic.length - 1 || topic.charCodeAt(index - 1) === 0x2f || ++slashes > 4) return false;
  }
  return slashes === 4 && topic.charCodeAt(1) !== 0x2f;
}

/** Zigzag-maps a signed 64-bit value to the unsigned varint value protobuf `sint64` stores. */
export function zigzagEncode64(value: bigint): bigint {
  return BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
}

/** Inverse of {@link zigzagEncode64}. */
export function zigzagDecode64(value: bigint): bigint {
  return (value >> 1n) ^ -(value & 1n);
}

/**
 * Encodes an envelope. Values out of their protobuf range are caller bugs (`RangeError`).
 */
export function encodeEnvelope(envelope: WakuEnvelope): Uint8Array {
  // Sized first, then written into one exact allocation: envelopes carry ~35 kB SDS messages,
  // and a growing writer copied each one several times.
  if (envelope.version !== undefined && (!Number.isInteger(envelope.version) || envelope.version < 0 || envelope.version > UINT32_MAX)) throw new RangeError(`version ${envelope.version} is not a uint32`);
  if (envelope.timestampNs !== undefined && (envelope.timestampNs < INT64_MIN || envelope.timestampNs > INT64_MAX)) throw new RangeError(`timestamp ${envelope.timestampNs} is not an int64`);
  const topic = TEXT_ENCODER.encode(envelope.contentTopic);
  const timestamp = envelope.timestampNs === undefined ? undefined : zigzagEncode64(envelope.timestampNs);
  const fields: [key: number, value: Uint8Array | bigint][] = [];
  if (envelope.payload.length > 0) fields.push([FIELD.payload * 8 + WireType.LengthDelimited, envelope.payload]);
  if (topic.length > 0) fields.push([FIELD.contentTopic * 8 + WireType.LengthDelimited, topic]);
  if (envelope.version !== undefined) fields.push([FIELD.version * 8 + WireType.Varint, BigInt(envelope.version)]);
  if (timestamp !== undefined) fields.push([FIELD.timestamp * 8 + WireType.Varint, timestamp]);
  if (envelope.meta !== undefined) fields.push([FIELD.meta * 8 + WireType.LengthDelimited, envelope.meta]);
  if (envelope.ephemeral !== undefined) fields.push([FIELD.ephemeral * 8 + WireType.Varint, envelope.ephemeral ? 1n : 0n]);
  let size = 0;
  for (const [key, value] of fields) {
    size += varintLength(BigInt(key));
    size += typeof value === "bigint" ? varintLength(value) : varintLength(BigInt(value.length)) + value.length;
  }
  const out = new Uint8Array(size);
  let position = 0;
  const varint = (value: bigint) => {
    for (; value >= 0x80n; value >>= 7n) out[position++] = Number(value & 0x7fn) | 0x80;
    out[position++] = Number(value);
  };
  for (const [key, value] of fields) {
    varint(BigInt(key));
    if (typeof value === "bigint") varint(value);
    else {
      varint(BigInt(value.length));
      out.set(value, position);
      position += value.length;
    }
  }
  return out;
}

function expectWireType(actual: number, expected: number, field: string, offset: number): void {
  if (actual !== expected) {
    throw new DecodeError("E_DECODE_WIRE_TYPE", `wire type ${actual} where ${expected} was expected`, { field, offset }, { wireType: actual });
  }
}

function decodeUtf8(bytes: Uint8Array, field: string, offset: number): string {
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    throw new DecodeError("E_DECODE_UTF8", "not valid UTF-8", { field, offset });
  }
}

/**
 * Decodes an envelope with limits. Bytes fields are copied (the result does not alias `bytes`).
 * @param baseOffset absolute offset of `bytes[0]` in an outer frame, for error reports.
 * @throws DecodeError naming the field and the absolute byte offset.
 */
export function decodeEnvelope(bytes: Uint8Array, limits: Partial<EnvelopeLimits> = {}, baseOffset = 0): WakuEnvelope {
  const bounds = { ...DEFAULT_ENVELOPE_LIMITS, ...limits };
  if (bytes.length > bounds.envelopeBytesMax) {
    throw new DecodeError("E_DECODE_LIMIT", `envelope of ${bytes.length} bytes exceeds ${bounds.envelopeBytesMax}`, { field: "envelope", offset: baseOffset }, { envelopeBytesMax: bounds.envelopeBytesMax });
  }
  const reader = new ProtoReader(bytes, { baseOffset });
  const envelope: WakuEnvelope = { payload: new Uint8Array(0), contentTopic: "" };
  while (!reader.eof()) {
    const tag = reader.readTag("envelope");
    const valueOffset = reader.offset;
    switch (tag.field) {
      case FIELD.payload:
        expectWireType(tag.wireType, WireType.LengthDelimited, "payload", tag.offset);
        envelope.payload = reader.readLengthDelimited("payload").slice();
        break;
      case FIELD.contentTopic: {
        expectWireType(tag.wireType, WireType.LengthDelimited, "contentTopic", tag.offset);
        const raw = reader.readLengthDelimited("contentTopic");
        if (raw.length > bounds.contentTopicBytesMax) {
          throw new DecodeError("E_DECODE_LIMIT", `content topic of ${raw.length} bytes exceeds ${bounds.contentTopicBytesMax}`, { field: "contentTopic", offset: reader.offset - raw.length });
        }
        envelope.contentTopic = decodeUtf8(raw, "contentTopic", reader.offset - raw.length);
        break;
      }
      case FIELD.version: {
        expectWireType(tag.wireType, WireType.Varint, "version", tag.offset);
        const version = reader.readVarint("version");
        if (version > BigInt(UINT32_MAX)) throw new DecodeError("E_DECODE_VARINT", `version ${version} exceeds uint32`, { field: "version", offset: valueOffset });
        envelope.version = Number(version);
        break;
      }
      case FIELD.timestamp:
        expectWireType(tag.wireType, WireType.Varint, "timestamp", tag.offset);
        envelope.timestampNs = zigzagDecode64(reader.readVarint("timestamp"));
        break;
      case FIELD.meta: {
        expectWireType(tag.wireType, WireType.LengthDelimited, "meta", tag.offset);
        const meta = reader.readLengthDelimited("meta");
        if (meta.length > bounds.metaBytesMax) {
          throw new DecodeError("E_DECODE_LIMIT", `meta of ${meta.length} bytes exceeds ${bounds.metaBytesMax}`, { field: "meta", offset: reader.offset - meta.length });
        }
        envelope.meta = meta.slice();
        break;
      }
      case FIELD.ephemeral:
        expectWireType(tag.wireType, WireType.Varint, "ephemeral", tag.offset);
        envelope.ephemeral = reader.readVarint("ephemeral") !== 0n;
        break;
      default:
        reader.skip(tag.wireType, tag.field === FIELD.rateLimitProof ? "rateLimitProof" : `unknown(${tag.field})`);
    }
  }
  return envelope;
}

// Reused: `Hash.update` copies its input before returning.
const timestampScratch = Buffer.alloc(8);

/** `timestampNs` as 8 bytes big-endian two's complement (the hash input form), in a shared scratch buffer. */
function timestampBytes(timestampNs: bigint): Uint8Array {
  timestampScratch.writeBigUInt64BE(BigInt.asUintN(64, timestampNs), 0);
  return timestampScratch;
}

/**
 * The deterministic Waku message hash, used as the SDS retrieval hint and the relay store key:
 * `sha256(utf8(pubsubTopic) ‖ payload ‖ utf8(contentTopic) ‖ meta ‖ timestamp as 8 bytes BE)`;
 * absent `meta`/`timestamp` contribute nothing. Version and ephemeral are not hashed.
 * @returns 32 bytes.
 */
export function messageHash(pubsubTopic: string, envelope: WakuEnvelope): Uint8Array {
  // node:crypto, not a JS sha256: the relay hashes every publish (≈ 1 µs vs ≈ 100+ µs).
  const hasher = createHash("sha256");
  hasher.update(pubsubTopic, "utf8");
  hasher.update(envelope.payload);
  hasher.update(envelope.contentTopic, "utf8");
  if (envelope.meta !== undefined) hasher.update(envelope.meta);
  if (envelope.timestampNs !== undefined) hasher.update(timestampBytes(envelope.timestampNs));
  const digest = hasher.digest();
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
}

/** Lower-case hex of `bytes` (hashes in logs, maps and JSON). */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/** True when `meta` is absent (js-waku peers) or exactly the Reliable Channel marker. */
export function hasAcceptableMeta(envelope: WakuEnvelope): boolean {
  if (envelope.meta === undefined || envelope.meta.length === 0) return true;
  const marker = RELIABLE_CHANNEL_META_BYTES;
  return envelope.meta.length === marker.length && envelope.meta.every((byte, index) => byte === marker[index]);
}
