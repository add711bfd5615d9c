/**
 * The last stage of the Reliable Channel's ingress: SDS deliveries (in causal order) go
 * through the reassembler, and whole payloads come out as `received` events. Reassembly losses
 * become `lost` events, unusable segments `dropped` ones; SDS content that is not a segment at
 * all (a peer that does not segment, e.g. js-waku) is delivered as it is when allowed.
 */
import type { Delivered } from "../protocol/engine/events.js";
import type { HistoryEntry } from "../protocol/types.js";
import type { ChannelCounters, ChannelEvents, DropReason } from "./events.js";
import { Reassembler, type ReassemblerOptions, type ReassemblyOutcome } from "./reassembly.js";

/** What the reassembler keeps per segment until its payload is whole. */
export interface SegmentTag {
  messageId: string;
  senderId: string;
  lamportTimestamp: bigint | undefined;
}

/** What a {@link PayloadDelivery} needs from its channel. */
export interface PayloadDeliveryHost {
  channelId: string;
  counters: ChannelCounters;
  events: ChannelEvents;
  drop: (reason: DropReason, detail: string) => void;
  /** Called with every message id delivered or given up, so nobody fetches it any more. */
  resolved: (messageIds: string[]) => void;
}

/** Turns SDS deliveries into whole payloads. */
export class PayloadDelivery {
  private readonly reassembler: Reassembler<SegmentTag>;

  constructor(
    private readonly host: PayloadDeliveryHost,
    reassembly: ReassemblerOptions,
    /** Deliver SDS content that is not a segment as-is. */
    private readonly acceptUnsegmented: boolean,
  ) {
    this.reassembler = new Reassembler<SegmentTag>(reassembly);
  }

  /** Feeds SDS deliveries (sync messages and other channels are skipped). */
  accept(delivered: readonly Delivered[]): void {
    if (delivered.length > 0) this.host.resolved(delivered.map((item) => item.messageId));
    for (const item of delivered) {
      if (item.channelId !== this.host.channelId || item.content.length === 0) continue;
      const tag: SegmentTag = { messageId: item.messageId, senderId: item.senderId, lamportTimestamp: item.lamportTimestamp };
      this.handle(this.reassembler.accept(item.content, tag, item.senderId), item);
    }
  }

  /** Expires incomplete sets (reported as `lost`). */
  sweep(): void {
    this.handle(this.reassembler.sweep());
  }

  /** Reports SDS dependencies the engine gave up on. */
  lost(entries: readonly HistoryEntry[]): void {
    const messageIds = entries.map((entry) => entry.messageId);
    this.host.resolved(messageIds);
    this.host.counters.lost += entries.length;
    this.host.events.emit("lost", { source: "sds", messageIds });
  }

  private handle(outcomes: ReassemblyOutcome<SegmentTag>[], source?: Delivered): void {
    for (const outcome of outcomes) {
      switch (outcome.kind) {
        case "complete":
          this.deliver(outcome.payload, outcome.tags, outcome.payloadHash, true);
          break;
        case "lost":
          this.host.counters.lost += 1;
          this.host.events.emit("lost", {
            source: "reassembly",
            reason: outcome.reason,
            payloadHash: outcome.payloadHash,
            messageIds: outcome.tags.map((tag) => tag.messageId),
            held: outcome.held,
            expected: outcome.expected,
          });
          break;
        case "discarded": {
          const raw = (outcome.reason === "undecodable" || outcome.reason === "invalid") && this.acceptUnsegmented;
          if (raw && source) this.deliver(source.content, [outcome.tag], undefined, false);
          else this.host.drop("segment", `${outcome.reason} segment in message ${outcome.tag.messageId}`);
          break;
        }
        case "progress":
          break;
      }
    }
  }

  private deliver(payload: Uint8Array, tags: SegmentTag[], payloadHash: string | undefined, segmented: boolean): void {
    const last = tags[tags.length - 1] as SegmentTag;
    this.host.counters.payloadsReceived += 1;
    this.host.events.emit("received", {
      payload,
      meta: { senderId: last.senderId, messageIds: tags.map((tag) => tag.messageId), lamportTimestamp: last.lamportTimestamp, payloadHash, segmented },
    });
  }
}
