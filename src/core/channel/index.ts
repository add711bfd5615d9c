/**
 * The Reliable Channel's public surface in one place, for `src/index.ts` and the commands:
 * the channel itself, its events and scheduler, and the pieces usable on their own
 * (segment codec, reassembler, channel cipher and key parsing, rate limiter, send tracker).
 */
export { ReliableChannel } from "./reliable-channel.js";
export type { ReliabilityEngine, ReliableChannelOptions, RequestOutcome, SendReceipt } from "./options.js";
export { timerScheduler, type ChannelScheduler, type ChannelCounters, type ChannelEventMap, type ChannelEventName, type ChannelListener, type DropReason, type ReceivedMeta } from "./events.js";
export { ChannelCipher, parseChannelKey, frameWakuPayload, unframeWakuPayload, CHANNEL_KEY_BYTES, type ChannelCipherOptions, type ChannelKeyFormat, type EncryptionFraming } from "./encryption.js";
export {
  segmentPayload,
  encodeSegment,
  decodeSegment,
  payloadHash,
  chunkBytesFor,
  SEGMENT_BYTES_MAX_DEFAULT,
  SEGMENT_TOTAL_COUNT_MAX_DEFAULT,
  SEGMENT_HASH_BYTES,
  type Segment,
  type SegmentDecodeLimits,
  type SegmentPayloadOptions,
} from "./segmentation.js";
export { Reassembler, type ReassemblerOptions, type ReassemblyOutcome, type SegmentDiscardReason, type SetLostReason } from "./reassembly.js";
export { EpochRateLimiter, RateLimitedQueue, type RateLimitConfig, type Admission, type EpochQuota } from "./rate-limit.js";
export { SendTracker, type SendEvent, type SegmentSendState, type RequestStatus } from "./send-state.js";
