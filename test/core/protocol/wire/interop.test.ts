/**
 * The spec dialect against the reference: `@waku/sds` 0.0.8 (`Message.encode`, protons) must
 * produce exactly our bytes for thousands of random messages, and its decoder must read our
 * bytes (and we its bytes) to the same message and the same content/sync/ephemeral class.
 */
import { ContentMessage, EphemeralMessage, Message, SyncMessage } from "@waku/sds";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { MessageKind, SdsMessage } from "../../../../src/core/protocol/types.js";
import { classifyMessage, decodeMessage, decodeMessageWithDialect, encodeMessage } from "../../../../src/core/protocol/wire/index.js";
import { seedFor, specMessageArb } from "./arbitraries.js";

const RUNS = Number(process.env.SDS_INTEROP_RUNS ?? 3000);

function wakuMessage(message: SdsMessage): Message {
  return new Message(
    message.messageId,
    message.channelId,
    message.senderId,
    message.causalHistory,
    message.lamportTimestamp,
    message.bloomFilter,
    message.content,
    message.repairRequest,
  );
}

function wakuKind(decoded: Message | undefined): MessageKind {
  if (decoded instanceof ContentMessage) return "content";
  if (decoded instanceof SyncMessage) return "sync";
  if (decoded instanceof EphemeralMessage) return "ephemeral";
  return "invalid";
}

/** The fields of a decoded @waku/sds message, in our model. */
function fromWaku(decoded: Message): SdsMessage {
  const result: SdsMessage = {
    senderId: decoded.senderId,
    messageId: decoded.messageId,
    channelId: decoded.channelId,
    causalHistory: decoded.causalHistory,
    repairRequest: decoded.repairRequest,
  };
  if (decoded.lamportTimestamp !== undefined) result.lamportTimestamp = decoded.lamportTimestamp;
  if (decoded.bloomFilter !== undefined) result.bloomFilter = decoded.bloomFilter;
  if (decoded.content !== undefined) result.content = decoded.content;
  return result;
}

describe("spec dialect vs @waku/sds 0.0.8", () => {
  it("encodes byte-identically and both decoders agree", () => {
    const seed = seedFor("interop");
    fc.assert(
      fc.property(specMessageArb, (message) => {
        const ours = encodeMessage(message, { dialect: "spec" });
        const theirs = wakuMessage(message).encode();
        expect(Buffer.from(ours).toString("hex")).toBe(Buffer.from(theirs).toString("hex"));
        const decoded = decodeMessage(theirs, { dialect: "spec" });
        expect(decoded).toEqual(message);
        const wakuDecoded = Message.decode(ours);
        const kind = classifyMessage(decoded);
        expect(kind).toBe(wakuKind(wakuDecoded));
        if (wakuDecoded !== undefined && kind !== "sync") expect(decoded).toEqual(fromWaku(wakuDecoded));
        if (wakuDecoded !== undefined && kind === "sync") expect({ ...decoded, content: undefined }).toEqual({ ...fromWaku(wakuDecoded), content: undefined });
      }),
      { seed, numRuns: RUNS },
    );
  });

  it("detects every @waku/sds content, sync and ephemeral message as spec", () => {
    const seed = seedFor("interop-detect");
    fc.assert(
      fc.property(specMessageArb, (message) => {
        const bytes = wakuMessage(message).encode();
        if (bytes.length === 0) return;
        const { dialect } = decodeMessageWithDialect(bytes);
        expect(dialect).toBe("spec");
      }),
      { seed, numRuns: Math.ceil(RUNS / 3) },
    );
  });

  it("agrees with @waku/sds on mutated blobs that we accept", () => {
    const seed = seedFor("interop-mutated");
    let compared = 0;
    fc.assert(
      fc.property(specMessageArb, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 3 }), (message, edits) => {
        const bytes = encodeMessage(message, { dialect: "spec" });
        if (bytes.length === 0) return;
        for (const [at, value] of edits) bytes[at % bytes.length] = value;
        let ours: SdsMessage;
        try {
          ours = decodeMessage(bytes, { dialect: "spec" });
        } catch {
          return; // stricter than protons (UTF-8, wire types, nested bounds): no comparison
        }
        const kind = classifyMessage(ours);
        const theirs = Message.decode(bytes);
        expect(wakuKind(theirs)).toBe(kind);
        if (theirs !== undefined && kind !== "sync") {
          expect(ours).toEqual(fromWaku(theirs));
          compared++;
        }
      }),
      { seed, numRuns: RUNS },
    );
    expect(compared).toBeGreaterThan(0);
  });

  it("encodes what @waku/sds's own message classes produce", () => {
    const history = [{ messageId: "m1", senderId: "alice" }];
    const content = new ContentMessage("id1", "chan", "alice", history, 5n, new Uint8Array([1, 2]), new Uint8Array([104, 105]), []);
    const sync = new SyncMessage("sync-1", "chan", "alice", history, 6n, new Uint8Array(0), undefined, []);
    const ephemeral = new EphemeralMessage("e1", "chan", "alice", [], undefined, undefined, new Uint8Array([7]), []);
    for (const [instance, kind] of [[content, "content"], [sync, "sync"], [ephemeral, "ephemeral"]] as const) {
      const bytes = instance.encode();
      const decoded = decodeMessage(bytes);
      expect(classifyMessage(decoded)).toBe(kind);
      expect(encodeMessage(decoded, { dialect: "spec" })).toEqual(bytes);
    }
  });
});
