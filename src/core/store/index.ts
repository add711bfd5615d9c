/**
 * The store's public surface: the persistence contract, the memory, SQLite and
 * fault-injecting backends, the snapshot and key codecs, and database inspection.
 */
export type * from "./contract.js";
export { MemoryPersistence } from "./memory.js";
export { SqlitePersistence, type SqliteStoreOptions, openStore, channelSettingKey, globalSettingKey } from "./sqlite.js";
export { FaultyPersistence, type FaultPlan, type FaultOutcome, type InjectedFault, type PersistenceOp, seededRandom } from "./faulty.js";
export { type SynchronousMode, STORE_USER_VERSION } from "./sqlite-db.js";
export { CATEGORY } from "./rows.js";
export { key, keyPart, toKey, prefixRange, compareKeys, decodeStringKey, type KeyRange } from "./keys.js";
export {
  CHANNEL_META_SCHEMA_VERSION,
  type SnapshotLimits,
  DEFAULT_SNAPSHOT_LIMITS,
  encodeChannelMeta,
  decodeChannelMeta,
  encodeChannelData,
  decodeChannelData,
  encodeHistoryUpdate,
  decodeHistoryUpdate,
} from "./snapshot.js";
export { type InspectReport, type InspectOptions, type InspectCheck, type ChannelSummary, type DatabaseHeader, inspectDatabase } from "./inspect.js";
export { type RepairResult, type RepairChange, repairDatabase } from "./repair.js";
export type { InspectProblem, RepairAction } from "./inspect-rows.js";
