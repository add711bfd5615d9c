/**
 * Public surface of the relay layer for `src/index.ts`: the transport interface the Reliable
 * Channel codes against, its WebSocket client and in-memory hub, the server, the envelope codec
 * and hash, and the wire protocol codec. Generic helpers (hex, zigzag) stay internal so the
 * library entry has no name clashes.
 */
export type { EnvelopeHandler, FetchSinceOptions, PublishAck, ReceivedEnvelope, RelayTransport, SubscribeOptions, Subscription } from "./transport.js";
export {
  DEFAULT_ENVELOPE_LIMITS,
  DEFAULT_PUBSUB_TOPIC,
  RELIABLE_CHANNEL_META,
  RELIABLE_CHANNEL_META_BYTES,
  contentTopicFor,
  decodeEnvelope,
  encodeEnvelope,
  hasAcceptableMeta,
  isContentTopic,
  messageHash,
  type EnvelopeLimits,
  type WakuEnvelope,
} from "./envelope.js";
export { DEFAULT_FRAME_LIMITS, FrameType, RELAY_PROTOCOL_VERSION, encodeFrame, type Frame, type FrameLimits, type FrameOf, type StoredEntry } from "./protocol.js";
export { decodeFrame } from "./frame-decode.js";
export { RelayClient, type RelayClientEvent, type RelayClientOptions } from "./client.js";
export { CloseCode, DEFAULT_RELAY_PORT, RelayServer, type RelayServerEvent, type RelayServerOptions, type RelayStats } from "./server.js";
export { DEFAULT_RELAY_URL, RELAY_URL_ENV, defaultRelayUrl, ensureLocalRelay, type EnsureLocalRelayOptions, type LocalRelay } from "./local.js";
export { MemoryHub, MemoryPeer, type MemoryHubOptions, type MemoryHubStats } from "./memory-hub.js";
export type { FaultOptions } from "./limits.js";
