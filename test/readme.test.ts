/**
 * The README's library examples, run as written against the package entry, so the front
 * door never documents an API that does not exist.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  BloomFilter, DecodeError, ReliabilityManager, SqlitePersistence, classifyMessage, decodeMessage, detectDialect, encodeMessage,
} from "../src/index.js";

const text = (value: string) => new TextEncoder().encode(value);

describe("README library examples", () => {
  it("wire codecs: encode, auto-decode, detect, classify, typed errors with field and offset", () => {
    const bytes = encodeMessage(
      { senderId: "alice", messageId: "m1", channelId: "demo", lamportTimestamp: 1700000000000n, causalHistory: [{ messageId: "m0" }], content: text("hi"), repairRequest: [] },
      { dialect: "spec" },
    );
    const message = decodeMessage(bytes, { dialect: "auto" });
    expect(message.messageId).toBe("m1");
    expect(detectDialect(bytes)).toMatchObject({ dialect: "spec", confidence: "certain" });
    expect(classifyMessage(message)).toBe("content");
    const failure = (() => { try { decodeMessage(new Uint8Array([0x12, 0x40])); } catch (error) { return error; } })();
    expect(failure).toBeInstanceOf(DecodeError);
    expect(failure).toMatchObject({ code: "E_DECODE_TRUNCATED", field: "messageId", offset: 1 });
  });

  it("bloom filters: default sizing and both framings", () => {
    const filter = new BloomFilter({ capacity: 10_000, errorRate: 0.001, hashFamily: "murmur3" });
    filter.add("m1");
    expect(filter.has("m1")).toBe(true);
    expect(filter.params).toMatchObject({ kHashes: 10, mBits: 150_000 });
    expect(filter.toBytes("spec")).toHaveLength(18_752);
    expect(filter.toBytes("nim")).toHaveLength(18_768);
    expect(BloomFilter.fromBytes(filter.toBytes("spec"), { dialect: "spec" }).has("m1")).toBe(true);
  });

  it("engine: send, receive, tick and group commit with a SQLite store", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sds-readme-"));
    try {
      const opened = SqlitePersistence.open(join(dir, "alice.db"));
      if (!opened.ok) throw opened.error;
      const alice = new ReliabilityManager({ participantId: "alice", dialect: "spec", persistence: opened.value });
      const bob = new ReliabilityManager({ participantId: "bob", dialect: "spec" });
      const acknowledged: string[] = [];
      alice.on("acknowledged", (event: { messageId: string }) => acknowledged.push(event.messageId));
      const { messageId, wire } = await alice.send("demo", text("hello"));
      const received = await bob.receive(wire);
      expect(received.delivered.map((d) => d.messageId)).toEqual([messageId]);
      const reply = await bob.send("demo", text("hi alice"));
      const back = await alice.receive(reply.wire);
      expect(back.acknowledged).toContain(messageId);
      expect(acknowledged).toContain(messageId);
      const many = await alice.sendMany("demo", [text("a"), text("b")]);
      expect(many).toHaveLength(2);
      const due = await alice.tick();
      expect(Array.isArray(due.wire)).toBe(true);
      await opened.value.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
