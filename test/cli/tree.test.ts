import { describe, expect, it } from "vitest";
import { palette } from "../../src/cli/color.js";
import { printableUtf8, renderTree, rowsFromAnnotated, rowsFromDump, showBytes, showInteger } from "../../src/cli/tree.js";
import { annotateMessage, dumpProtobuf, encodeMessage } from "../../src/core/protocol/wire/index.js";

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

describe("tree rendering", () => {
  it("shows bytes as text only when printable UTF-8", () => {
    expect(printableUtf8(utf8("hello\tworld\n"))).toBe("hello\tworld\n");
    expect(printableUtf8(new Uint8Array([0x68, 0x00]))).toBeUndefined();
    expect(printableUtf8(new Uint8Array([0xff]))).toBeUndefined();
    expect(showBytes(utf8("hi"))).toBe('"hi" (2 bytes, text)');
    expect(showBytes(new Uint8Array([0, 1]))).toBe("0x0001 (2 bytes)");
    expect(showBytes(new Uint8Array(100), { bytesShownMax: 4 })).toBe("0x00000000… (100 bytes)");
    expect(showBytes(new Uint8Array())).toBe("(empty)");
  });

  it("adds a date to integers that look like Unix time", () => {
    expect(showInteger(1700000000000n)).toBe("1700000000000 (2023-11-14T22:13:20.000Z if ms)");
    expect(showInteger(1700000000n)).toBe("1700000000 (2023-11-14T22:13:20.000Z if s)");
    expect(showInteger(42n)).toBe("42");
  });

  it("lays out an annotated message with offsets, lengths, field numbers and nesting", () => {
    const bytes = encodeMessage(
      { senderId: "alice", messageId: "m1", channelId: "c", lamportTimestamp: 5n, causalHistory: [{ messageId: "d" }], repairRequest: [], content: utf8("hi") },
      { dialect: "spec" },
    );
    const lines = renderTree(rowsFromAnnotated(annotateMessage(bytes, "spec")), palette(false)).split("\n");
    expect(lines).toEqual([
      '  @0  +7  1 senderId          "alice"',
      '  @7  +4  2 messageId         "m1"',
      '  @11 +3  3 channelId         "c"',
      "  @14 +2 10 lamportTimestamp  5",
      "  @16 +5 11 causalHistory[0]",
      '  @18 +3  1   messageId       "d"',
      '  @21 +5 20 content           "hi" (2 bytes, text)',
    ]);
  });

  it("lays out a schema-less dump", () => {
    const rows = rowsFromDump(dumpProtobuf(new Uint8Array([0x08, 0x96, 0x01, 0x1a, 0x03, 0x08, 0x96, 0x01])).fields);
    expect(rows.map((row) => [row.depth, row.offset, row.field, row.name, row.value])).toEqual([
      [0, 0, 1, "varint", "150"],
      [0, 3, 3, "message", "message (3 bytes)"],
      [1, 5, 1, "varint", "150"],
    ]);
  });
});
