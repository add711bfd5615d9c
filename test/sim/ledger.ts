/**
 * The delivery ledger: for every accepted message and every peer that should get it, whether it
 * was delivered, reported (lost at that peer, or undelivered by its sender), excused (an ancestor
 * of a message that peer reported lost, so it cannot learn of it; or held by no live store), or
 * still owed. Fed incrementally from the history, it answers "has the world converged?" during
 * the liveness phase and gives L1's verdict at the end (a Jepsen set checker per peer).
 */
import type { EventLog, SimEvent } from "./history.js";

/** Where one (message, peer) pair stands. */
export type PairStatus =
  | "ok" | "reported.lost" | "reported.undelivered"
  | "excused.ancestor-of-lost" | "excused.held-by-nobody" | "excused.ambiguous-commit" | "excused.never-referenced" | "owed";

interface SendRecord {
  peer: string;
  channel: string;
  id: string;
  deps: string[];
  t: number;
  index: number;
}

function key(channel: string, id: string): string {
  return `${channel}\u0000${id}`;
}

/** Incremental index of sends, deliveries and reports. */
export class DeliveryLedger {
  private consumed = 0;
  readonly sends = new Map<string, SendRecord>();
  private readonly sendsById = new Map<string, SendRecord[]>();
  private readonly delivered = new Set<string>();
  private readonly lostAt = new Map<string, Set<string>>();
  private readonly undelivered = new Set<string>();
  /** Peers that saw a commit land while it reported failure (their deliveries then may not be released). */
  private readonly ambiguousPeers = new Set<string>();
  /** `peer \0 channel` → ids that peer received or saw referenced in a received causal history. */
  private readonly known = new Map<string, Set<string>>();
  /** Ids the latest recv at each peer added to `known` (undone if that receive failed). */
  private readonly lastRecv = new Map<string, Array<[Set<string>, string]>>();

  /** Reads history events not seen yet. */
  feed(events: EventLog): void {
    events.forEachFrom(this.consumed, (event) => {
      this.take(event);
      this.consumed += 1;
    });
  }

  private take(event: SimEvent): void {
    if (event.k === "send" && !event.ephemeral) {
      const record = { peer: event.peer, channel: event.channel, id: event.id, deps: event.deps, t: event.t, index: this.consumed };
      this.sends.set(key(event.channel, event.id), record);
      this.sendsById.set(event.id, [...(this.sendsById.get(event.id) ?? []), record]);
    } else if (event.k === "deliver") this.delivered.add(`${event.peer}\u0000${key(event.channel, event.id)}`);
    else if (event.k === "lost") {
      const slot = `${event.peer}\u0000${event.channel}`;
      const ids = this.lostAt.get(slot) ?? new Set<string>();
      ids.add(event.id);
      this.lostAt.set(slot, ids);
    } else if (event.k === "undelivered") this.undelivered.add(key(event.channel, event.id));
    else if (event.k === "ambiguous" && event.op !== "send") this.ambiguousPeers.add(event.peer);
    else if (event.k === "recv") {
      const added: Array<[Set<string>, string]> = [];
      for (const channel of this.channelsOf(event.id, event.deps)) {
        const slot = `${event.peer}\u0000${channel}`;
        const ids = this.known.get(slot) ?? new Set<string>();
        for (const id of [event.id, ...event.deps]) {
          if (ids.has(id)) continue;
          ids.add(id);
          added.push([ids, id]);
        }
        this.known.set(slot, ids);
      }
      this.lastRecv.set(event.peer, added);
    } else if (event.k === "error" && event.op === "receive") {
      // The receive failed and changed nothing: what it taught the simulator, it did not teach the peer.
      for (const [ids, id] of this.lastRecv.get(event.peer) ?? []) ids.delete(id);
      this.lastRecv.delete(event.peer);
    }
  }

  /** Channels a received message may belong to (recv events do not carry the channel). */
  private channelsOf(id: string, deps: readonly string[]): string[] {
    const channels = new Set<string>();
    for (const candidate of [id, ...deps]) {
      for (const send of this.sendsById.get(candidate) ?? []) channels.add(send.channel);
    }
    return channels.size > 0 ? [...channels] : ["?"];
  }

  /** Causal ancestors of `roots` by the dependencies recorded at send. */
  private ancestors(roots: Iterable<string>, channel: string): Set<string> {
    const seen = new Set<string>();
    const stack = [...roots];
    while (stack.length > 0) {
      const id = stack.pop() as string;
      for (const dependency of this.sends.get(key(channel, id))?.deps ?? []) {
        if (seen.has(dependency)) continue;
        seen.add(dependency);
        stack.push(dependency);
      }
    }
    return seen;
  }

  /**
   * Classifies every (accepted message, core peer ≠ sender) pair. `heldByCore` maps a channel to
   * the ids some core peer's store still holds; `historyOf` maps `peer \0 channel` to the ids in
   * that peer's stored history. Calls `visit` for each pair.
   */
  classify(
    corePeers: readonly string[], heldByCore: ReadonlyMap<string, ReadonlySet<string>>, historyOf: ReadonlyMap<string, ReadonlySet<string>>,
    visit: (status: PairStatus, send: SendRecord, peer: string) => void,
  ): void {
    const excusedCache = new Map<string, Set<string>>();
    for (const send of this.sends.values()) {
      for (const peer of corePeers) {
        if (peer === send.peer) continue;
        const pair = `${peer}\u0000${key(send.channel, send.id)}`;
        const slot = `${peer}\u0000${send.channel}`;
        let status: PairStatus;
        if (this.delivered.has(pair)) status = "ok";
        else if (this.lostAt.get(slot)?.has(send.id) === true) status = "reported.lost";
        else if (this.undelivered.has(key(send.channel, send.id))) status = "reported.undelivered";
        else {
          let excused = excusedCache.get(slot);
          if (excused === undefined) {
            excused = this.ancestors(this.lostAt.get(slot) ?? [], send.channel);
            excusedCache.set(slot, excused);
          }
          if (excused.has(send.id)) status = "excused.ancestor-of-lost";
          else if (this.ambiguousPeers.has(peer) && historyOf.get(slot)?.has(send.id) === true) status = "excused.ambiguous-commit";
          else if (heldByCore.get(send.channel)?.has(send.id) !== true) status = "excused.held-by-nobody";
          else if (this.known.get(slot)?.has(send.id) !== true) status = "excused.never-referenced";
          else status = "owed";
        }
        visit(status, send, peer);
      }
    }
  }

  /** Pairs still owed (convergence needs 0). */
  owedCount(corePeers: readonly string[], heldByCore: ReadonlyMap<string, ReadonlySet<string>>, historyOf: ReadonlyMap<string, ReadonlySet<string>>): number {
    let owed = 0;
    this.classify(corePeers, heldByCore, historyOf, (status) => {
      if (status === "owed") owed += 1;
    });
    return owed;
  }
}
