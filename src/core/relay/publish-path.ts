/**
 * The relay's per-publish fast path. A PUBLISH frame and the envelope inside it are read in one
 * pass with number arithmetic (no BigInt, no copies: the envelope, payload and meta are views
 * into the received bytes), and the message hash is computed from those views. Only the
 * well-formed layout is recognised: unknown fields, unexpected wire types, truncation, non-ASCII
 * topics or values over a limit make it return `undefined`, and the server then runs the full
 * decoders (`frame-decode.ts`, `envelope.ts`), which accept or reject exactly as before and give
 * the precise error. The hash is the one `messageHash` computes (pinned by tests).
 */
import { createHash, hash as oneShotHash } from "node:crypto";
import { FrameType, RELAY_PROTOCOL_VERSION } from "./protocol.js";

/** A publish read by {@link readPublish}; `envelope` aliases the frame bytes. */
export interface PublishView {
  requestId: number;
  /** The envelope bytes exactly as published (a view, not a copy). */
  envelope: Uint8Array;
  contentTopic: string;
  ephemeral: boolean;
  /**
   * The 32-byte message hash, in a scratch array that the next {@link readPublish} overwrites:
   * copy it to keep it (the store, the ack and the MESSAGE frame all copy). A digest Buffer of
   * its own would be an ArrayBuffer per publish.
   */
  hash: Uint8Array;
}

/** Limits the fast path checks; over any of them it defers to the full decoders. */
export interface PublishPathLimits {
  envelopeBytesMax: number;
  contentTopicBytesMax: number;
  metaBytesMax: number;
}

// Result of the last `readVarint`: the low and high 32 bits of the value (unsigned).
let varintLow = 0;
let varintHigh = 0;
const timestampScratch = Buffer.alloc(8);
/** Hash input up to this size is gathered into one scratch buffer for a one-shot `crypto.hash`. */
const HASH_SCRATCH_BYTES = 64 * 1024;
const hashScratch = Buffer.alloc(HASH_SCRATCH_BYTES);
/** The pubsub topic bytes the hash scratch currently starts with (the same array object). */
let scratchPrefix: Uint8Array | undefined;
/** The digest of the last publish read (see {@link PublishView.hash}). */
const digestScratch = new Uint8Array(32);

/** Reads a varint at `start`; returns the position after it, or -1 (truncated / over 64 bits). */
function readVarint(bytes: Uint8Array, start: number, end: number): number {
  let position = start;
  let low = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (position >= end) return -1;
    const byte = bytes[position++] as number;
    low |= (byte & 0x7f) << shift;
    if (byte < 0x80) {
      varintLow = low >>> 0;
      varintHigh = 0;
      return position;
    }
  }
  if (position >= end) return -1;
  let byte = bytes[position++] as number;
  varintLow = (low | ((byte & 0x0f) << 28)) >>> 0;
  let high = (byte & 0x7f) >> 4;
  for (let shift = 3; byte >= 0x80; shift += 7) {
    if (position >= end || shift > 31) return -1;
    byte = bytes[position++] as number;
    if (shift === 31 && byte > 1) return -1;
    high |= (byte & 0x7f) << shift;
  }
  varintHigh = high >>> 0;
  return position;
}

/** Reads a length prefix at `start`; returns the end of the bytes it covers, or -1. */
function readLength(bytes: Uint8Array, start: number, end: number): number {
  const position = readVarint(bytes, start, end);
  if (position < 0 || varintHigh !== 0 || varintLow > end - position) return -1;
  return position + varintLow;
}

/** The content topic of the last publish read: publishes repeat their topic. */
let lastTopic = "";

/** The ASCII bytes [start, end) as a string: the last topic again when they spell it (no new string). */
function topicString(frame: Buffer, start: number, end: number): string {
  const topic = lastTopic;
  if (end - start === topic.length) {
    let index = 0;
    while (index < topic.length && frame[start + index] === topic.charCodeAt(index)) index += 1;
    if (index === topic.length) return topic;
  }
  lastTopic = frame.toString("latin1", start, end);
  return lastTopic;
}

/** True when every byte in [start, end) is ASCII (then latin1 decoding equals UTF-8 decoding). */
function isAscii(bytes: Uint8Array, start: number, end: number): boolean {
  for (let index = start; index < end; index++) if ((bytes[index] as number) >= 0x80) return false;
  return true;
}

/**
 * Reads a PUBLISH frame and hashes its envelope, or returns `undefined` when the frame is not
 * the common well-formed case (the caller then uses the full decoders).
 * @param pubsubTopicBytes UTF-8 of the relay's pubsub topic (the hash prefix).
 */
export function readPublish(frame: Buffer, pubsubTopicBytes: Uint8Array, limits: PublishPathLimits): PublishView | undefined {
  const end = frame.length;
  if (end < 2 || frame[0] !== RELAY_PROTOCOL_VERSION || frame[1] !== FrameType.Publish) return undefined;
  let requestId = 0;
  let envelopeStart = -1;
  let envelopeEnd = -1;
  for (let position = 2; position < end; ) {
    position = readVarint(frame, position, end);
    if (position < 0 || varintHigh !== 0) return undefined;
    if (varintLow === 0x08) {
      position = readVarint(frame, position, end);
      if (position < 0 || varintHigh >= 0x20_0000) return undefined;
      requestId = varintHigh * 0x1_0000_0000 + varintLow;
    } else if (varintLow === 0x12) {
      position = envelopeEnd = readLength(frame, position, end);
      if (position < 0) return undefined;
      envelopeStart = envelopeEnd - varintLow;
    } else return undefined;
  }
  if (envelopeStart < 0 || envelopeEnd - envelopeStart > limits.envelopeBytesMax) return undefined;
  return readEnvelope(frame, envelopeStart, envelopeEnd, requestId, pubsubTopicBytes, limits);
}

function readEnvelope(frame: Buffer, start: number, end: number, requestId: number, pubsubTopicBytes: Uint8Array, limits: PublishPathLimits): PublishView | undefined {
  let payloadStart = start;
  let payloadEnd = start;
  let topicStart = -1;
  let topicEnd = -1;
  let metaStart = -1;
  let metaEnd = -1;
  let timestamp = false;
  let ephemeral = false;
  for (let position = start; position < end; ) {
    position = readVarint(frame, position, end);
    if (position < 0 || varintHigh !== 0) return undefined;
    const tag = varintLow;
    if (tag === 0x0a || tag === 0x12 || tag === 0x5a) {
      const valueEnd = readLength(frame, position, end);
      if (valueEnd < 0) return undefined;
      const valueStart = valueEnd - varintLow;
      if (tag === 0x0a) {
        payloadStart = valueStart;
        payloadEnd = valueEnd;
      } else if (tag === 0x12) {
        // A repeated content topic: the full decoder checks every copy's UTF-8, so defer to it.
        if (topicStart >= 0) return undefined;
        topicStart = valueStart;
        topicEnd = valueEnd;
      } else {
        metaStart = valueStart;
        metaEnd = valueEnd;
      }
      position = valueEnd;
    } else if (tag === 0x18 || tag === 0x50 || tag === 0xf8) {
      position = readVarint(frame, position, end);
      if (position < 0) return undefined;
      if (tag === 0x18 && varintHigh !== 0) return undefined;
      if (tag === 0x50) {
        timestamp = true;
        zigzagToScratch(varintLow, varintHigh);
      }
      if (tag === 0xf8) ephemeral = varintLow !== 0 || varintHigh !== 0;
    } else return undefined;
  }
  if (topicStart < 0 || topicEnd - topicStart > limits.contentTopicBytesMax || !isAscii(frame, topicStart, topicEnd)) return undefined;
  if (metaStart >= 0 && metaEnd - metaStart > limits.metaBytesMax) return undefined;
  const digest = hashParts(frame, pubsubTopicBytes, payloadStart, payloadEnd, topicStart, topicEnd, metaStart, metaEnd, timestamp);
  return {
    requestId,
    envelope: frame.subarray(start, end),
    contentTopic: topicString(frame, topicStart, topicEnd),
    ephemeral,
    hash: digest,
  };
}

/**
 * sha256 of pubsub topic ‖ payload ‖ content topic ‖ meta ‖ timestamp (8 bytes BE, when present),
 * the ranges read straight from the frame. A one-shot `crypto.hash` over a reused scratch buffer
 * costs about 40 % of a `createHash` object with several `update`s; big inputs stream instead.
 */
function hashParts(frame: Buffer, pubsubTopicBytes: Uint8Array, payloadStart: number, payloadEnd: number, topicStart: number, topicEnd: number, metaStart: number, metaEnd: number, timestamp: boolean): Uint8Array {
  const metaBytes = metaStart >= 0 ? metaEnd - metaStart : 0;
  const length = pubsubTopicBytes.length + (payloadEnd - payloadStart) + (topicEnd - topicStart) + metaBytes + (timestamp ? 8 : 0);
  if (length > HASH_SCRATCH_BYTES) {
    const hasher = createHash("sha256").update(pubsubTopicBytes).update(frame.subarray(payloadStart, payloadEnd)).update(frame.subarray(topicStart, topicEnd));
    if (metaBytes > 0) hasher.update(frame.subarray(metaStart, metaEnd));
    if (timestamp) hasher.update(timestampScratch);
    return latin1Into(hasher.digest("binary"), digestScratch);
  }
  // The relay's pubsub topic stays at the front of the scratch between publishes.
  if (scratchPrefix !== pubsubTopicBytes) {
    hashScratch.set(pubsubTopicBytes, 0);
    scratchPrefix = pubsubTopicBytes;
  }
  let position = copyToScratch(frame, payloadStart, payloadEnd, pubsubTopicBytes.length);
  position = copyToScratch(frame, topicStart, topicEnd, position);
  if (metaBytes > 0) position = copyToScratch(frame, metaStart, metaEnd, position);
  if (timestamp) position = copyToScratch(timestampScratch, 0, 8, position);
  // A one-byte ("binary", i.e. latin1) string of the 32 digest bytes is the cheapest result
  // `crypto.hash` gives (a Buffer result is an ArrayBuffer of its own, twice the cost).
  return latin1Into(oneShotHash("sha256", new Uint8Array(hashScratch.buffer, hashScratch.byteOffset, position), "binary"), digestScratch);
}

/** Copies `bytes[start, end)` to the hash scratch at `position`; returns the end. Short ranges by loop (no call into `Buffer#copy`). */
function copyToScratch(bytes: Buffer, start: number, end: number, position: number): number {
  if (end - start > 64) return position + bytes.copy(hashScratch, position, start, end);
  for (let index = start; index < end; index++) hashScratch[position++] = bytes[index] as number;
  return position;
}

/** Writes the character codes of `digest` (one byte each) into `out`. */
function latin1Into(digest: string, out: Uint8Array): Uint8Array {
  for (let index = 0; index < out.length; index++) out[index] = digest.charCodeAt(index);
  return out;
}

/** Writes the zigzag-decoded sint64 (low, high) as 8 bytes big-endian two's complement. */
function zigzagToScratch(low: number, high: number): void {
  const negative = (low & 1) === 1;
  let shiftedLow = ((low >>> 1) | ((high & 1) << 31)) >>> 0;
  let shiftedHigh = high >>> 1;
  if (negative) {
    shiftedLow = ~shiftedLow >>> 0;
    shiftedHigh = ~shiftedHigh >>> 0;
  }
  timestampScratch.writeUInt32BE(shiftedHigh, 0);
  timestampScratch.writeUInt32BE(shiftedLow, 4);
}
