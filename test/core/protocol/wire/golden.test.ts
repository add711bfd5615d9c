/**
 * Golden vectors from research/sds-protocol.md §1.3 (js hex produced by the protons codec of
 * js-waku, nim hex following protobuf.nim) and shared/vectors/nim-and-js-derived.json.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { SdsMessage } from "../../../../src/core/protocol/types.js";
import { classifyMessage, decodeMessage, decodeMessageWithDialect, detectDialect, encodeMessage } from "../../../../src/core/protocol/wire/index.js";

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
const fromHex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text.replace(/\s+/g, ""), "hex"));
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

const ID = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
const ID_HEX = hex(utf8(ID));

const example: SdsMessage = {
  senderId: "alice",
  messageId: ID,
  channelId: "my-channel",
  lamportTimestamp: 1700000000000n,
  causalHistory: [{ messageId: "dep1", retrievalHint: fromHex("aabb"), senderId: "bob" }],
  bloomFilter: fromHex("0102"),
  content: utf8("hello"),
  repairRequest: [{ messageId: "lost1", senderId: "carol" }],
};

const SPEC_HEX = `0a05616c696365 1240${ID_HEX} 1a0a6d792d6368616e6e656c 5080d095ffbc31
  5a0f0a04646570311202aabb1a03626f62 62020102 6a0e0a056c6f7374311a056361726f6c a2010568656c6c6f`.replace(/\s+/g, "");
const NIM_HEX = `0a40${ID_HEX} 1080d095ffbc31 1a0f0a04646570311202aabb1a03626f62 220a6d792d6368616e6e656c
  2a0568656c6c6f 32020102 3a05616c696365 6a0e0a056c6f7374311a056361726f6c`.replace(/\s+/g, "");
const SYNC_HEX = "0a05616c696365120873796e632d6162631a0a6d792d6368616e6e656c5081d095ffbc315a0b0a026d311a05616c696365";
const EPHEMERAL_HEX = "0a05616c696365120265311a0a6d792d6368616e6e656ca2010101";

const vectors = JSON.parse(readFileSync(new URL("../hash/vectors/nim-and-js-derived.json", import.meta.url), "utf8")) as { nim_msg_hex: string };

describe("golden vectors", () => {
  it("encodes the §1.3 message byte-exactly in both dialects", () => {
    expect(hex(encodeMessage(example, { dialect: "spec" }))).toBe(SPEC_HEX);
    expect(hex(encodeMessage(example, { dialect: "nim" }))).toBe(NIM_HEX);
    expect(vectors.nim_msg_hex).toBe(NIM_HEX);
  });

  it("decodes the §1.3 message in both dialects, explicitly and by detection", () => {
    expect(decodeMessage(fromHex(SPEC_HEX), { dialect: "spec" })).toEqual(example);
    expect(decodeMessage(fromHex(NIM_HEX), { dialect: "nim" })).toEqual(example);
    const spec = decodeMessageWithDialect(fromHex(SPEC_HEX));
    expect(spec.dialect).toBe("spec");
    expect(spec.detection.confidence).toBe("certain");
    expect(spec.message).toEqual(example);
    const nim = decodeMessageWithDialect(fromHex(vectors.nim_msg_hex));
    expect(nim.dialect).toBe("nim");
    expect(nim.detection.confidence).toBe("certain");
    expect(nim.detection.reason).toContain("field 2 is a varint");
    expect(nim.message).toEqual(example);
  });

  it("decodes and re-encodes the js sync and ephemeral vectors", () => {
    const sync = decodeMessage(fromHex(SYNC_HEX));
    expect(sync).toEqual({
      senderId: "alice",
      messageId: "sync-abc",
      channelId: "my-channel",
      lamportTimestamp: 1700000000001n,
      causalHistory: [{ messageId: "m1", senderId: "alice" }],
      repairRequest: [],
    });
    expect(classifyMessage(sync)).toBe("sync");
    expect(hex(encodeMessage(sync, { dialect: "spec" }))).toBe(SYNC_HEX);
    const ephemeral = decodeMessage(fromHex(EPHEMERAL_HEX));
    expect(ephemeral).toEqual({ senderId: "alice", messageId: "e1", channelId: "my-channel", causalHistory: [], repairRequest: [], content: fromHex("01") });
    expect(classifyMessage(ephemeral)).toBe("ephemeral");
    expect(hex(encodeMessage(ephemeral, { dialect: "spec" }))).toBe(EPHEMERAL_HEX);
    expect(detectDialect(fromHex(EPHEMERAL_HEX)).dialect).toBe("spec");
  });

  it("classifies like @waku/sds", () => {
    const base = { senderId: "a", messageId: "m", channelId: "c", causalHistory: [], repairRequest: [] };
    expect(classifyMessage({ ...base, lamportTimestamp: 1n, content: utf8("x") })).toBe("content");
    expect(classifyMessage({ ...base, lamportTimestamp: 1n, content: new Uint8Array() })).toBe("sync");
    expect(classifyMessage({ ...base, lamportTimestamp: 0n })).toBe("sync");
    expect(classifyMessage({ ...base, content: utf8("x") })).toBe("ephemeral");
    expect(classifyMessage({ ...base, content: new Uint8Array() })).toBe("invalid");
    expect(classifyMessage(base)).toBe("invalid");
  });

  it("writes nim's always-present fields for an empty message", () => {
    const empty: SdsMessage = { senderId: "", messageId: "", channelId: "", lamportTimestamp: 0n, causalHistory: [{ messageId: "" }], repairRequest: [] };
    // 1 "", 2 0, 3 {1 ""}, 4 "", 5 "", 6 ""; no 7.
    expect(hex(encodeMessage(empty, { dialect: "nim" }))).toBe("0a0010001a020a0022002a003200");
    expect(decodeMessage(fromHex("0a0010001a020a0022002a003200"), { dialect: "nim" })).toEqual({ ...empty, content: new Uint8Array(), bloomFilter: new Uint8Array() });
    // spec skips every empty string, but writes set optional fields even when empty.
    expect(hex(encodeMessage({ ...empty, bloomFilter: new Uint8Array(), content: new Uint8Array() }, { dialect: "spec" }))).toBe("50005a00620 0a20100".replace(/ /g, ""));
  });
});
