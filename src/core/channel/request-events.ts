/**
 * Turns the send tracker's request events (`sent`, `delivered`, `undelivered`, `send-error`)
 * into the Reliable Channel's public side: the outgoing index forgets a request when it ends
 * and remembers its final outcome, the request counters move, and the channel events fire.
 */
import type { ChannelCounters, ChannelEvents } from "./events.js";
import type { OutgoingIndex } from "./outgoing-index.js";
import type { SendEvent } from "./send-state.js";

/** Where request events land. */
export interface RequestEventSinks {
  outgoing: OutgoingIndex;
  counters: ChannelCounters;
  events: ChannelEvents;
}

/** Applies `events`, in order, to the outgoing index, the counters and the channel's listeners. */
export function applySendEvents(sinks: RequestEventSinks, events: readonly SendEvent[]): void {
  const { outgoing, counters } = sinks;
  for (const event of events) {
    switch (event.kind) {
      case "sent":
        if (event.final) outgoing.finish(event.requestId, event.messageIds, "sent");
        else outgoing.setOutcome(event.requestId, "sent");
        sinks.events.emit("sent", { requestId: event.requestId, messageIds: event.messageIds });
        break;
      case "delivered":
        outgoing.finish(event.requestId, event.messageIds, "delivered");
        counters.requestsDelivered += 1;
        sinks.events.emit("delivered", { requestId: event.requestId, messageIds: event.messageIds });
        break;
      case "undelivered":
        outgoing.finish(event.requestId, event.messageIds, "undelivered");
        counters.requestsUndelivered += 1;
        sinks.events.emit("undelivered", { requestId: event.requestId, messageIds: event.messageIds, undeliveredMessageIds: event.undeliveredMessageIds });
        break;
      case "send-error":
        sinks.events.emit("send-error", { requestId: event.requestId, messageId: event.messageId, error: event.error });
        break;
    }
  }
}
