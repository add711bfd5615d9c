/** Temp directories and Result unwrapping for store tests. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { encodeMessage } from "../../../src/core/protocol/wire/index.js";
import type { ChannelMeta } from "../../../src/core/store/contract.js";
import { key, keyPart, toKey } from "../../../src/core/store/keys.js";
import { encodeChannelMeta } from "../../../src/core/store/snapshot.js";
import { SqlitePersistence } from "../../../src/core/store/sqlite.js";
import { emptyDelta, message } from "./fixtures.js";

/** The clock the inspect tests use. */
export const NOW = 1_700_000_200_000;

const dirs: string[] = [];

/** A fresh temp directory's `sds.db` path; call {@link cleanTemp} in afterEach. */
export function tempDb(name = "sds.db"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sds-store-"));
  dirs.push(dir);
  return path.join(dir, name);
}

export function cleanTemp(): void {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

export function must<T>(result: { ok: true; value: T } | { ok: false; error: Error }): T {
  if (!result.ok) throw result.error;
  return result.value;
}

/**
 * Builds a database exactly as logos-delivery writes it: only `kv`, user_version 1, an
 * `sds.meta` single blob holding whole buffers and `sds.log` rows; no rows of ours.
 */
export function buildNimLayoutDb(file: string, channelId = "nimchan"): { meta: ChannelMeta } {
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.exec("CREATE TABLE IF NOT EXISTS kv (category BLOB NOT NULL, key BLOB NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (category, key)) WITHOUT ROWID;");
  db.pragma("user_version = 1");
  const put = db.prepare("INSERT OR REPLACE INTO kv (category, key, payload) VALUES (?, ?, ?)");
  const meta: ChannelMeta = {
    schemaVersion: 1,
    lamportTimestamp: 1_700_000_123n,
    outgoingBuffer: [{ message: message(channelId, "out1", 1_700_000_120n), sendTimeMs: 1_700_000_120_000, resendAttempts: 1 }],
    incomingBuffer: [{ message: message(channelId, "wait1", 1_700_000_121n, { causalHistory: [{ messageId: "gone" }] }), missingDeps: ["gone"] }],
    outgoingRepairBuffer: [{ entry: { messageId: "gone", senderId: "bob" }, minTimeRepairReqMs: 1_700_000_150_000 }],
    incomingRepairBuffer: [{ entry: { messageId: "h1", senderId: "carol" }, cachedMessage: Uint8Array.of(1, 2, 3), minTimeRepairRespMs: 1_700_000_160_000 }],
  };
  put.run(Buffer.from("sds.meta"), toKey(channelId), encodeChannelMeta(meta));
  for (let i = 1; i <= 3; i++) {
    const m = message(channelId, `h${i}`, BigInt(1_700_000_100 + i));
    put.run(Buffer.from("sds.log"), key(keyPart.string(channelId), keyPart.string(m.messageId)), encodeMessage(m, { dialect: "nim" }));
  }
  db.close();
  return { meta };
}

/** A database of ours with a row in every category. */
export async function buildOurDb(file: string): Promise<void> {
  const store = must(SqlitePersistence.open(file));
  for (const channelId of ["alpha", "beta"]) {
    const delta = emptyDelta(channelId, 1_700_000_100n);
    for (let i = 1; i <= 4; i++) {
      const m = message(channelId, `${channelId}-m${i}`, BigInt(1_700_000_000 + i), { causalHistory: i > 1 ? [{ messageId: `${channelId}-m${i - 1}` }] : [] });
      delta.history.append.push(m);
      if (i > 2) delta.outgoing.upsert.push({ message: m, sendTimeMs: NOW - 5000 * i, resendAttempts: i - 2, wire: Uint8Array.of(i) });
    }
    delta.incoming.upsert.push({ message: message(channelId, `${channelId}-w`, 1_700_000_050n), missingDeps: ["lost-1"], receivedAtMs: NOW - 1000 });
    delta.outgoingRepair.upsert.push({ entry: { messageId: "lost-1", senderId: "bob" }, minTimeRepairReqMs: NOW + 30_000 });
    delta.incomingRepair.upsert.push({ entry: { messageId: `${channelId}-m1`, senderId: "carol" }, cachedMessage: Uint8Array.of(1, 2), minTimeRepairRespMs: NOW + 1000 });
    delta.retrievalHints.push({ messageId: `${channelId}-m1`, hint: Uint8Array.of(0xab) });
    must(await store.commit([delta]));
  }
  must(store.putChannelSetting("alpha", "dialect", new TextEncoder().encode("spec")));
  await store.close();
}

