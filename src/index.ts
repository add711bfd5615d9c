/**
 * The `sds-toolkit` library entry: wire codecs for both SDS dialects, bloom filters, the SDS
 * engine and its persistence contract. See README.md ("Library") for usage.
 */
export * from "./core/errors.js";
export type { DialectName, HistoryEntry, MessageKind, SdsMessage } from "./core/protocol/types.js";
export type * from "./core/store/contract.js";
