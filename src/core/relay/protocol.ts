/**
 * The relay wire protocol: one WebSocket binary message = one frame =
 * `[protocol version: 1 byte = 1][frame type: 1 byte][protobuf body]`. Client frames have
 * types 0x01–0x7f, relay frames 0x80–0xff. Envelopes travel as their encoded bytes so the
 * relay forwards exactly what was published. Bodies follow proto3 conventions (zero/empty
 * scalars omitted, unknown fields skipped). Specified byte by byte in docs/relay-protocol.md.
 * Decoding lives in `frame-decode.ts`. Pure: no I/O, no clocks.
 */

/** Version byte of every frame; a relay or client refuses any other. */
export const RELAY_PROTOCOL_VERSION = 1;

/** Frame type bytes. */
export const FrameType = {
  Subscribe: 0x01,
  Unsubscribe: 0x02,
  Publish: 0x03,
  Ping: 0x04,
  StoreQuery: 0x05,
  Hello: 0x06,
  Welcome: 0x80,
  Message: 0x81,
  PublishAck: 0x82,
  PublishReject: 0x83,
  Pong: 0x84,
  StoreResponse: 0x85,
  Error: 0x86,
  SlowConsumer: 0x87,
  PublishAcks: 0x88,
} as const;

/**
 * Feature bits a relay offers in WELCOME `features` and a client turns on with HELLO. Bits a
 * side does not know are ignored, so new ones need no new protocol version.
 */
export const RelayFeature = {
  /** The relay may acknowledge several publishes in one PUBLISH_ACKS frame (§4 of the protocol document). */
  AckBatches: 1,
} as const;

/** One acknowledgement inside PUBLISH_ACKS: the body of a PUBLISH_ACK. */
export interface PublishAckEntry {
  requestId: number;
  hash: Uint8Array;
  duplicate: boolean;
  storedAtNs: bigint;
}

/** One stored envelope in a STORE_RESPONSE. */
export interface StoredEntry {
  hash: Uint8Array;
  envelope: Uint8Array;
  storedAtNs: bigint;
}

/** Every frame, client → relay and relay → client. `requestId`s are caller-chosen, ≤ 2^53−1. */
export type Frame =
  | { type: "subscribe"; topics: string[] }
  | { type: "unsubscribe"; topics: string[] }
  | { type: "publish"; requestId: number; envelope: Uint8Array }
  | { type: "ping"; nonce: number }
  | { type: "storeQuery"; requestId: number; topic: string; hashes: Uint8Array[]; sinceTimestampNs: bigint; limit: number; cursor: Uint8Array }
  | { type: "hello"; features: number }
  | { type: "welcome"; protocolVersion: number; pubsubTopic: string; relayTimeNs: bigint; frameBytesMax: number; storeQueryLimitMax: number; relayId: string; features: number }
  | { type: "message"; topic: string; envelope: Uint8Array; hash: Uint8Array; storedAtNs: bigint }
  | { type: "publishAck"; requestId: number; hash: Uint8Array; duplicate: boolean; storedAtNs: bigint }
  | { type: "publishReject"; requestId: number; code: string; reason: string }
  | { type: "pong"; nonce: number }
  | { type: "storeResponse"; requestId: number; entries: StoredEntry[]; nextCursor: Uint8Array; code: string; reason: string }
  | { type: "error"; code: string; reason: string; requestId: number; topic: string }
  | { type: "slowConsumer"; bufferedBytes: number; limitBytes: number }
  | { type: "publishAcks"; acks: PublishAckEntry[] };

/** A frame of one kind. */
export type FrameOf<K extends Frame["type"]> = Extract<Frame, { type: K }>;

/** Limits for {@link decodeFrame}. */
export interface FrameLimits {
  /** Whole frame (default 1 MiB + 128 KiB). */
  frameBytesMax: number;
  /** Topics in one SUBSCRIBE/UNSUBSCRIBE (default 64). */
  topicsPerFrameMax: number;
  /** UTF-8 bytes of a topic, code or reason string (default 1024). */
  stringBytesMax: number;
  /** Hashes in one STORE_QUERY (default 1024). */
  hashesPerQueryMax: number;
  /** Entries in one STORE_RESPONSE (default 10,000). */
  entriesPerResponseMax: number;
  /** Acknowledgements in one PUBLISH_ACKS (default 4096; the relay sends at most 1024). */
  acksPerFrameMax: number;
}

/** Default frame limits. */
export const DEFAULT_FRAME_LIMITS: Readonly<FrameLimits> = Object.freeze({
  frameBytesMax: 1024 * 1024 + 128 * 1024,
  topicsPerFrameMax: 64,
  stringBytesMax: 1024,
  hashesPerQueryMax: 1024,
  entriesPerResponseMax: 10_000,
  acksPerFrameMax: 4096,
});

/** Frame type byte → frame name (the decoder's dispatch table). */
export const FRAME_TYPE_NAMES: ReadonlyMap<number, Frame["type"]> = new Map<number, Frame["type"]>([
  [FrameType.Subscribe, "subscribe"],
  [FrameType.Unsubscribe, "unsubscribe"],
  [FrameType.Publish, "publish"],
  [FrameType.Ping, "ping"],
  [FrameType.StoreQuery, "storeQuery"],
  [FrameType.Hello, "hello"],
  [FrameType.Welcome, "welcome"],
  [FrameType.Message, "message"],
  [FrameType.PublishAck, "publishAck"],
  [FrameType.PublishReject, "publishReject"],
  [FrameType.Pong, "pong"],
  [FrameType.StoreResponse, "storeResponse"],
  [FrameType.Error, "error"],
  [FrameType.SlowConsumer, "slowConsumer"],
  [FrameType.PublishAcks, "publishAcks"],
]);
const TYPE_BYTES = new Map<Frame["type"], number>([...FRAME_TYPE_NAMES].map(([byte, name]) => [name, byte]));

// ---------------------------------------------------------------- encoding

/**
 * How each body field is written. `uint`: varint, omitted when 0 (a boolean is 0/1); `string` /
 * `bytes`: length-delimited, omitted when empty; `strings` / `bytesList`: repeated, every element
 * written (even empty); `entries` / `acks`: repeated nested STORE_RESPONSE entries / PUBLISH_ACK bodies.
 */
type FieldKind = "uint" | "string" | "bytes" | "strings" | "bytesList" | "entries" | "acks";
/** One body field: protobuf field number, kind, and the frame property holding the value. */
type FieldSpec = readonly [field: number, kind: FieldKind, property: string];

/** The body layout of every frame type, in field order (docs/relay-protocol.md). */
const BODY: { readonly [K in Frame["type"]]: readonly FieldSpec[] } = {
  subscribe: [[1, "strings", "topics"]],
  unsubscribe: [[1, "strings", "topics"]],
  publish: [[1, "uint", "requestId"], [2, "bytes", "envelope"]],
  ping: [[1, "uint", "nonce"]],
  storeQuery: [[1, "uint", "requestId"], [2, "string", "topic"], [3, "bytesList", "hashes"], [4, "uint", "sinceTimestampNs"], [5, "uint", "limit"], [6, "bytes", "cursor"]],
  hello: [[1, "uint", "features"]],
  welcome: [[1, "uint", "protocolVersion"], [2, "string", "pubsubTopic"], [3, "uint", "relayTimeNs"], [4, "uint", "frameBytesMax"], [5, "uint", "storeQueryLimitMax"], [6, "string", "relayId"], [7, "uint", "features"]],
  message: [[1, "string", "topic"], [2, "bytes", "envelope"], [3, "bytes", "hash"], [4, "uint", "storedAtNs"]],
  publishAck: [[1, "uint", "requestId"], [2, "bytes", "hash"], [3, "uint", "duplicate"], [4, "uint", "storedAtNs"]],
  publishReject: [[1, "uint", "requestId"], [2, "string", "code"], [3, "string", "reason"]],
  pong: [[1, "uint", "nonce"]],
  storeResponse: [[1, "uint", "requestId"], [2, "entries", "entries"], [3, "bytes", "nextCursor"], [4, "string", "code"], [5, "string", "reason"]],
  error: [[1, "string", "code"], [2, "string", "reason"], [3, "uint", "requestId"], [4, "string", "topic"]],
  slowConsumer: [[1, "uint", "bufferedBytes"], [2, "uint", "limitBytes"]],
  publishAcks: [[1, "acks", "acks"]],
};
/** The body of one STORE_RESPONSE entry. */
const ENTRY_BODY: readonly FieldSpec[] = [[1, "bytes", "hash"], [2, "bytes", "envelope"], [3, "uint", "storedAtNs"]];
/** The body of one PUBLISH_ACKS element: a PUBLISH_ACK body. */
const ACK_BODY: readonly FieldSpec[] = BODY.publishAck;

type FieldValue = number | bigint | boolean | string | Uint8Array | readonly string[] | readonly Uint8Array[] | readonly StoredEntry[] | readonly PublishAckEntry[];

// The last `splitUint` result: unsigned low and high 32 bits.
let uintLow = 0;
let uintHigh = 0;
const uintScratch = new DataView(new ArrayBuffer(8));

/** Splits a uint64 (number ≤ 2^53−1 or bigint < 2^64) into `uintLow`/`uintHigh`. */
function splitUint(value: number | bigint | boolean): void {
  if (typeof value === "boolean") value = value ? 1 : 0;
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`invalid varint ${value}`);
    uintLow = value % 0x1_0000_0000;
    uintHigh = (value - uintLow) / 0x1_0000_0000;
    return;
  }
  if (value < 0n || value > 0xffff_ffff_ffff_ffffn) throw new RangeError(`varint out of uint64 range: ${value}`);
  // Through a DataView: BigInt arithmetic would allocate on every store time encoded.
  uintScratch.setBigUint64(0, value);
  uintLow = uintScratch.getUint32(4);
  uintHigh = uintScratch.getUint32(0);
}

/** Bytes of the varint of `low` + `high`·2^32 (both unsigned 32-bit). */
export function varintSize(low: number, high: number): number {
  let length = 1;
  while (high !== 0 || low >= 0x80) {
    low = ((low >>> 7) | (high << 25)) >>> 0;
    high >>>= 7;
    length += 1;
  }
  return length;
}

/** Writes the varint of `low` + `high`·2^32 at `position`; returns the position after it. */
export function writeVarint(out: Buffer, position: number, low: number, high: number): number {
  while (high !== 0 || low >= 0x80) {
    out[position++] = (low & 0x7f) | 0x80;
    low = ((low >>> 7) | (high << 25)) >>> 0;
    high >>>= 7;
  }
  out[position++] = low;
  return position;
}

/** Varint size of a length (< 2^31). */
function lengthBytes(length: number): number {
  return length < 0x80 ? 1 : length < 0x4000 ? 2 : length < 0x20_0000 ? 3 : length < 0x1000_0000 ? 4 : 5;
}

/** Size of a length-delimited field whose content is `length` bytes (key < 128). */
function delimitedBytes(length: number): number {
  return 1 + lengthBytes(length) + length;
}

/** Encoded size of a body laid out by `fields`. */
function bodyBytes(value: object, fields: readonly FieldSpec[]): number {
  let size = 0;
  for (const [, kind, property] of fields) {
    const field = (value as Record<string, FieldValue>)[property] as FieldValue;
    if (kind === "uint") {
      splitUint(field as number | bigint | boolean);
      if (uintLow !== 0 || uintHigh !== 0) size += 1 + varintSize(uintLow, uintHigh);
    } else if (kind === "bytes") {
      if ((field as Uint8Array).length > 0) size += delimitedBytes((field as Uint8Array).length);
    } else if (kind === "string") {
      if ((field as string).length > 0) size += delimitedBytes(Buffer.byteLength(field as string, "utf8"));
    } else if (kind === "strings") {
      for (const text of field as readonly string[]) size += delimitedBytes(Buffer.byteLength(text, "utf8"));
    } else if (kind === "bytesList") {
      for (const bytes of field as readonly Uint8Array[]) size += delimitedBytes(bytes.length);
    } else if (kind === "entries") {
      for (const entry of field as readonly StoredEntry[]) size += delimitedBytes(bodyBytes(entry, ENTRY_BODY));
    } else for (const ack of field as readonly PublishAckEntry[]) size += delimitedBytes(bodyBytes(ack, ACK_BODY));
  }
  return size;
}

function writeDelimited(out: Buffer, position: number, key: number, bytes: Uint8Array): number {
  out[position++] = key;
  uintLow = bytes.length;
  uintHigh = 0;
  position = writeVarint(out, position, uintLow, uintHigh);
  out.set(bytes, position);
  return position + bytes.length;
}

function writeString(out: Buffer, position: number, key: number, text: string): number {
  out[position++] = key;
  uintLow = Buffer.byteLength(text, "utf8");
  uintHigh = 0;
  position = writeVarint(out, position, uintLow, uintHigh);
  return position + out.write(text, position, "utf8");
}

/** Writes a body laid out by `fields` at `position`; returns the position after it. */
function writeBody(value: object, fields: readonly FieldSpec[], out: Buffer, position: number): number {
  for (const [number, kind, property] of fields) {
    const field = (value as Record<string, FieldValue>)[property] as FieldValue;
    const key = number * 8 + (kind === "uint" ? 0 : 2);
    if (kind === "uint") {
      splitUint(field as number | bigint | boolean);
      if (uintLow === 0 && uintHigh === 0) continue;
      out[position++] = key;
      position = writeVarint(out, position, uintLow, uintHigh);
    } else if (kind === "bytes") {
      if ((field as Uint8Array).length > 0) position = writeDelimited(out, position, key, field as Uint8Array);
    } else if (kind === "string") {
      if ((field as string).length > 0) position = writeString(out, position, key, field as string);
    } else if (kind === "strings") {
      for (const text of field as readonly string[]) position = writeString(out, position, key, text);
    } else if (kind === "bytesList") {
      for (const bytes of field as readonly Uint8Array[]) position = writeDelimited(out, position, key, bytes);
    } else {
      const nested = kind === "entries" ? ENTRY_BODY : ACK_BODY;
      for (const entry of field as readonly object[]) {
        out[position++] = key;
        uintLow = bodyBytes(entry, nested);
        uintHigh = 0;
        position = writeBody(entry, nested, out, writeVarint(out, position, uintLow, uintHigh));
      }
    }
  }
  return position;
}

/** Encoded size of `frame` in bytes (version byte, type byte, body). */
export function frameBytes(frame: Frame): number {
  return 2 + bodyBytes(frame, BODY[frame.type]);
}

/**
 * Writes `frame` into `out` at `position` (exactly {@link frameBytes} bytes); returns the
 * position after it. Lets a transport put its own header in the same allocation.
 * @throws RangeError for an integer outside its range (a caller bug).
 */
export function writeFrame(frame: Frame, out: Buffer, position: number): number {
  out[position++] = RELAY_PROTOCOL_VERSION;
  out[position++] = TYPE_BYTES.get(frame.type) as number;
  return writeBody(frame, BODY[frame.type], out, position);
}

/**
 * Encodes a frame (version byte, type byte, body) in one allocation: sizes first, then writes.
 * The bytes live in pooled Buffer memory (`allocUnsafe`, every byte written) but come back as a
 * plain Uint8Array view: a Buffer's `slice` does not copy, which would surprise decoders.
 * @throws RangeError for an integer outside its range (a caller bug).
 */
export function encodeFrame(frame: Frame): Uint8Array {
  const out = Buffer.allocUnsafe(frameBytes(frame));
  const end = writeFrame(frame, out, 0);
  return new Uint8Array(out.buffer, out.byteOffset, end);
}

/** True for frame types a client may send. */
export function isClientFrame(frame: Frame): boolean {
  return (TYPE_BYTES.get(frame.type) as number) < 0x80;
}
