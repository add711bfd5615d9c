/**
 * The `sds-toolkit` library entry: wire codecs for both SDS dialects, bloom filters, the SDS
 * engine and its persistence contract. See README.md ("Library") for usage.
 */
export * from "./core/errors.js";
export type { DialectName, HistoryEntry, MessageKind, SdsMessage } from "./core/protocol/types.js";
export type * from "./core/store/contract.js";
// Wire codecs for both dialects (docs/commands/decode.md)
export {
  encodeMessage, decodeMessage, decodeMessageWithDialect, detectDialect, classifyMessage, annotateMessage, dumpProtobuf,
  DEFAULT_DECODE_LIMITS, DIALECTS,
} from "./core/protocol/wire/index.js";
export type {
  DecodeLimits, DialectDetection, DecodeMessageOptions, DecodedWithDialect, AnnotatedField, DumpNode, DumpOptions, DumpResult,
} from "./core/protocol/wire/index.js";
export { ProtoReader, ProtoWriter, WireType } from "./core/protocol/wire/proto.js";
// Bloom filters, hash families, SDS-R timing and message ids (docs/bloom.md)
export {
  BloomFilter, RollingBloomFilter, defaultHashFamily, sizeBloomFilter, wordCountForBits, mOverNBitsForK,
  FALSE_POSITIVE_RATES, DEFAULT_BLOOM_CAPACITY, DEFAULT_BLOOM_ERROR_RATE, DEFAULT_BLOOM_LIMITS, CAPACITY_FLEX_PERCENT,
} from "./core/protocol/bloom/index.js";
export type {
  BloomFilterOptions, BloomFilterParams, BloomFromBytesOptions, RollingBloomFilterOptions, BloomLimits, BloomSizing, BloomSizingInput,
} from "./core/protocol/bloom/index.js";
export { hashString, hashN, hashPairModulo, farmHash64, nimHash, murmur3Hash, BLOOM_HASH_FAMILIES, type BloomHashFamily } from "./core/protocol/hash/index.js";
export {
  computeTReqOffsetMs, computeTRespOffsetMs, isInResponseGroup, responseGroupCount, repairHash, specRepairHash, nimRepairHash,
  PARTICIPANTS_PER_RESPONSE_GROUP,
} from "./core/protocol/repair-timing.js";
export { contentMessageId, uniqueMessageId } from "./core/protocol/message-id.js";
// Reliable Channel: segmentation, encryption, rate limit, send states (docs/channel.md)
export * from "./core/channel/index.js";
// Relay: envelope codec and hash, frame protocol, server, reconnecting client, in-memory hub (docs/relay-protocol.md)
export * from "./core/relay/index.js";
// The SDS engine and the ReliabilityManager (docs/engine.md)
export { ReliabilityManager } from "./core/reliability-manager.js";
export type { ReliabilityManagerOptions, PersistencePolicy, SendResult, ReceiveResult, TickResult, TickPublish, BatchOperation, BatchResult } from "./core/reliability-manager.js";
export { resolveConfig, defaultConfig, SPEC_DEFAULTS, NIM_DEFAULTS, type SdsConfig, type MessageIdMode } from "./core/protocol/config.js";
export { getDialect, isDialectName, clampLamport, type Dialect } from "./core/protocol/dialect.js";
export type { Delivered, EngineEvent, EngineEventType, BufferName, ReceivedKind } from "./core/protocol/engine/index.js";
export * as engine from "./core/protocol/engine/index.js";
// Durable channel state: SQLite and memory stores, fault injection, inspection and repair (docs/store.md)
export {
  MemoryPersistence, SqlitePersistence, openStore, FaultyPersistence, seededRandom, inspectDatabase, repairDatabase, CATEGORY,
  STORE_USER_VERSION, CHANNEL_META_SCHEMA_VERSION, encodeChannelMeta, decodeChannelMeta, encodeChannelData, decodeChannelData,
  encodeHistoryUpdate, decodeHistoryUpdate, key, keyPart, toKey, prefixRange,
} from "./core/store/index.js";
export type {
  SqliteStoreOptions, SynchronousMode, FaultPlan, FaultOutcome, PersistenceOp, InjectedFault, InspectReport, InspectOptions,
  InspectCheck, ChannelSummary, RepairResult, RepairChange, SnapshotLimits, KeyRange,
} from "./core/store/index.js";
