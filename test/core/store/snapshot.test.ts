import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DecodeError } from "../../../src/core/errors.js";
import { decodeMessage } from "../../../src/core/protocol/wire/index.js";
import type { ChannelMeta } from "../../../src/core/store/contract.js";
import {
  decodeChannelData,
  decodeChannelMeta,
  decodeHistoryEntry,
  decodeHistoryUpdate,
  encodeChannelData,
  encodeChannelMeta,
  encodeHistoryEntry,
  encodeHistoryUpdate,
} from "../../../src/core/store/snapshot.js";
import { arbitraryMeta, arbitraryMessage, message } from "./fixtures.js";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const fromHex = (text: string) => Uint8Array.from(Buffer.from(text, "hex"));
/** The nim encoding of the research sheet's §1.3 message (alice/my-channel/hello). */
const NIM_MSG =
  "0a40326366323464626135666230613330653236653833623261633562396532396531623136316535633166613734323565373330343333363239333862393832341080d095ffbc311a0f0a04646570311202aabb1a03626f62220a6d792d6368616e6e656c2a0568656c6c6f320201023a05616c6963656a0e0a056c6f7374311a056361726f6c";

function emptyMeta(lamport: bigint): ChannelMeta {
  return { schemaVersion: 1, lamportTimestamp: lamport, outgoingBuffer: [], incomingBuffer: [], outgoingRepairBuffer: [], incomingRepairBuffer: [] };
}

describe("ChannelMeta snapshot codec (nim layout)", () => {
  it("golden: empty meta is {1: 1, 2: lamport}", () => {
    expect(hex(encodeChannelMeta(emptyMeta(5n)))).toBe("08011005");
  });

  it("golden: one unacknowledged message embeds the nim wire bytes, send time and attempts", () => {
    const msg = decodeMessage(fromHex(NIM_MSG), { dialect: "nim" });
    expect(msg.senderId).toBe("alice");
    expect(NIM_MSG.length / 2).toBe(0x88);
    const meta = emptyMeta(1700000000000n);
    meta.outgoingBuffer.push({ message: msg, sendTimeMs: 1000, resendAttempts: 2 });
    // 1a 90 01: field 3, 144 bytes = {0a 88 01 <136-byte message>, 10 e807 (1000 ms), 18 02}
    expect(hex(encodeChannelMeta(meta))).toBe(`08011080d095ffbc31` + `1a9001` + `0a8801${NIM_MSG}` + "10e807" + "1802");
  });

  it("golden: repair KVs are {1: id, 2: entry}", () => {
    const meta = emptyMeta(1n);
    meta.outgoingRepairBuffer.push({ entry: { messageId: "m" }, minTimeRepairReqMs: 7 });
    meta.incomingRepairBuffer.push({ entry: { messageId: "n", senderId: "s" }, cachedMessage: Uint8Array.of(0xaa), minTimeRepairRespMs: 9 });
    // 2a 0c: field 5 {0a016d, 12 07 {0a03 0a016d, 1007}}; 32 12: field 6 {0a016e, 12 0d {0a06 0a016e1a0173, 1201aa, 1809}}
    expect(hex(encodeChannelMeta(meta))).toBe("08011001" + "2a0c0a016d12070a030a016d1007" + "32120a016e120d0a060a016e1a01731201aa1809");
  });

  it("refuses an unknown schemaVersion loudly", () => {
    let caught: unknown;
    try {
      decodeChannelMeta(fromHex("08021005"));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DecodeError);
    expect((caught as DecodeError).code).toBe("E_SNAPSHOT_VERSION");
    expect((caught as DecodeError).field).toBe("ChannelMeta.schemaVersion");
  });

  it("refuses a missing schemaVersion or lamport", () => {
    expect(() => decodeChannelMeta(fromHex("1005"))).toThrow(/schemaVersion is missing/);
    expect(() => decodeChannelMeta(fromHex("0801"))).toThrow(DecodeError);
  });

  it("skips unknown fields (forward compatible like nim's decoder)", () => {
    expect(decodeChannelMeta(fromHex("08011005f80701")).lamportTimestamp).toBe(5n);
  });

  it("round-trips arbitrary metas, including our extension fields (property)", () => {
    fc.assert(
      fc.property(arbitraryMeta(), (meta) => {
        expect(decodeChannelMeta(encodeChannelMeta(meta))).toEqual(meta);
      }),
      { numRuns: 150 },
    );
  });

  it("never throws anything but DecodeError on mutated bytes (property)", () => {
    fc.assert(
      fc.property(arbitraryMeta(), fc.nat(), fc.integer({ min: 0, max: 255 }), (meta, position, value) => {
        const bytes = encodeChannelMeta(meta);
        if (bytes.length === 0) return;
        bytes[position % bytes.length] = value;
        try {
          decodeChannelMeta(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("ChannelData, HistoryUpdate and HistoryEntry", () => {
  it("round-trips ChannelData keeping history order", () => {
    fc.assert(
      fc.property(arbitraryMeta(), fc.array(arbitraryMessage(), { maxLength: 5 }), (meta, history) => {
        expect(decodeChannelData(encodeChannelData({ meta, history }))).toEqual({ meta, history });
      }),
      { numRuns: 60 },
    );
  });
  it("round-trips HistoryUpdate", () => {
    const update = { append: [message("c", "m1", 3n), message("c", "m2", 4n)], evict: ["old1", "old2"] };
    expect(decodeHistoryUpdate(encodeHistoryUpdate(update))).toEqual(update);
    expect(hex(encodeHistoryUpdate({ append: [], evict: ["a"] }))).toBe("120161");
  });
  it("encodes HistoryEntry like nim (hint and sender only when set)", () => {
    expect(hex(encodeHistoryEntry({ messageId: "m" }))).toBe("0a016d");
    expect(hex(encodeHistoryEntry({ messageId: "m", retrievalHint: Uint8Array.of(1), senderId: "s" }))).toBe("0a016d1201011a0173");
    expect(decodeHistoryEntry(fromHex("0a016d1201011a0173"))).toEqual({ messageId: "m", retrievalHint: Uint8Array.of(1), senderId: "s" });
    expect(() => decodeHistoryEntry(fromHex("1201ff"))).toThrow(DecodeError);
  });
});
