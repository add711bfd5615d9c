/**
 * A peer session: the glue every channel command shares. It opens the identity's SQLite store
 * (single writer: a second process gets `E_STORE_LOCKED`), the ReliabilityManager on it, a relay
 * transport (given, `--relay URL`, or the default local relay started in-process if none
 * listens), and the ReliableChannel on top; it keeps a per-channel relay cursor so the next run
 * catches up from the relay store where this one stopped, and it turns the channel's `received`
 * events into {@link DeliveredView}s (with the causal dependencies read from the SDS message).
 * Counters of engine events (acknowledged, resent, repairs) feed status lines and the demo.
 */
import { SdsError } from "../core/errors.js";
import { parseChannelKey } from "../core/channel/encryption.js";
import { timerScheduler } from "../core/channel/events.js";
import type { SendReceipt } from "../core/channel/options.js";
import { ReliableChannel } from "../core/channel/reliable-channel.js";
import type { SdsConfig } from "../core/protocol/config.js";
import type { EngineEvent } from "../core/protocol/engine/events.js";
import type { DialectName } from "../core/protocol/types.js";
import type { ReceivedEnvelope, RelayTransport } from "../core/relay/transport.js";
import { ReliabilityManager } from "../core/reliability-manager.js";
import { SqlitePersistence } from "../core/store/sqlite.js";
import { type OutputPosition, PrintedMarks } from "./printed.js";
import type { DeliveredView } from "./render.js";
import { CURSOR_SETTING, readChannelSettings } from "./session-settings.js";
import { connectRelay, observeEngine, trackCursor } from "./session-wiring.js";

export { connectRelay } from "./session-wiring.js";

/** Engine events counted per session (for status lines, summaries and the demo table). */
export interface SessionCounters {
  delivered: number;
  acknowledged: number;
  resent: number;
  repairRequested: number;
  repairAnswered: number;
  missing: number;
  duplicates: number;
  lost: number;
  undelivered: number;
  /** Engine receive calls (each one store commit) and the envelopes they carried: the receive path's batching. */
  receiveCalls: number;
  receivedWires: number;
}

/** Options of {@link ChannelSession.open}. */
export interface SessionOptions {
  /** Channel name (also the SDS channel id and the content-topic name). */
  channel: string;
  /** Identity (used to name the participant id on first use). */
  identity: string;
  /** SQLite file of the identity; `:memory:` for a throw-away session. */
  dbPath: string;
  /** Relay URL; undefined → the default local relay (started in-process if none listens). */
  relayUrl?: string;
  /** A ready transport (overrides `relayUrl`; the session does not close it). */
  transport?: RelayTransport;
  /** `--key` text (hex, base64 or `pass:`). */
  key?: string;
  /** Wire dialect; undefined → what the channel was created with, else `spec`. */
  dialect?: DialectName;
  /** Engine config overrides (the demo's short timings). */
  sdsConfig?: Partial<SdsConfig>;
  /** Engine tick interval, ms (default 1000). */
  tickIntervalMs?: number;
  /** Subscribe and tick (listen, channel open, send --wait-acks); false = publish only. */
  receive: boolean;
  /**
   * With `receive`: also poll the relay store for the channel's topic every this many ms
   * (0 = never). Closes gaps a lossy link leaves at the tail of a stream, which no later
   * message's causal history would reveal. Default 3000.
   */
  storePollIntervalMs?: number;
  /** Status lines for the user (stderr). */
  onStatus?: (text: string) => void;
  /** Sees every envelope the channel receives (live, catch-up, store fetches) before it is processed: `listen --capture`. */
  onEnvelope?: (message: ReceivedEnvelope) => void;
  /**
   * Keep printed marks (`listen`, `channel open`): the caller marks what it printed with
   * {@link ChannelSession.markPrinted}, and {@link ChannelSession.start} first re-delivers what an
   * earlier run delivered but never marked. With this set, `open` does not start receiving:
   * register `onMessage` handlers, then call `start`.
   */
  printedMarks?: boolean;
}

/**
 * Causal history entries per message the commands send: nim-sds's default. js-waku sends 200
 * (about 16.5 kB of a 35 kB spec message); the SDS spec and the Reliable Channel API recommend
 * 2. Receivers take any length, so this is the sender's choice: 10 still names a lost message in
 * the next ten, and the relay store poll closes longer gaps.
 */
export const CLI_CAUSAL_HISTORY_SIZE = 10;

/**
 * Engine settings the interactive commands (`listen`, `channel open`, `send --wait-acks`) use
 * over the dialect defaults: {@link CLI_CAUSAL_HISTORY_SIZE} causal history entries, a 5 s sync interval (spec default 30 s), so a peer that only
 * listens still acknowledges what it received within seconds; and dependencies missing for
 * {@link CLI_LOST_AFTER_MS} are given up as lost (the spec dialect never gives up), so messages
 * the relay store no longer holds (it evicts its oldest past 64 MiB ≈ 1,900 spec messages of
 * ~35 kB) do not hold back everything after them forever.
 */
export const CLI_SDS_CONFIG: Readonly<Partial<SdsConfig>> = Object.freeze({ syncIntervalMs: 5000, lostMessageTimeoutMs: 60_000, causalHistorySize: CLI_CAUSAL_HISTORY_SIZE });

/** Default of `listen --lost-after`, ms: longer than the store fetch retries and the first SDS-R repair window. */
export const CLI_LOST_AFTER_MS = 60_000;

/** How far back of the last seen relay time the next run starts its catch-up (duplicates are filtered by SDS). */
export const CURSOR_MARGIN_NS = 30_000_000_000n;
/** Causal histories remembered for messages received but not yet delivered. */
const DEPENDENCIES_ENTRIES_MAX = 100_000;
const CURSOR_SAVE_INTERVAL_MS = 1000;
const STORE_POLL_ENVELOPES_MAX = 2000;
const SEEN_HASHES_MAX = 50_000;
/** The first store poll looks this far behind the newest relay time already seen. */
const STORE_POLL_MARGIN_NS = 5_000_000_000n;

const textEncoder = new TextEncoder();

/** The session's store poll interval, ms (0 = no poll). */
const storePollMs = (options: SessionOptions): number => options.storePollIntervalMs ?? 3000;

function storeOrThrow<T>(result: { ok: true; value: T } | { ok: false; error: SdsError }): T {
  if (!result.ok) throw result.error;
  return result.value;
}

/** One identity on one channel, connected to a relay. Create with {@link ChannelSession.open}. */
export class ChannelSession {
  readonly counters: SessionCounters = { delivered: 0, acknowledged: 0, resent: 0, repairRequested: 0, repairAnswered: 0, missing: 0, duplicates: 0, lost: 0, undelivered: 0, receiveCalls: 0, receivedWires: 0 };
  private readonly dependencies = new Map<string, string[]>();
  private readonly messageHandlers = new Set<(message: DeliveredView) => void>();
  private cursorNs: bigint | undefined;
  private savedCursorNs: bigint | undefined;
  private cursorTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  /** Relay time the next store poll starts from; undefined until the first poll. */
  private pollCursorNs: bigint | undefined;
  private polling = false;
  /** Envelope hashes already handed to the channel (the store poll skips them). */
  private readonly seenHashes = new Map<string, true>();
  private closed = false;
  private started = false;
  private marks: PrintedMarks | undefined;
  private marksFailed = false;

  private constructor(
    readonly channelName: string,
    readonly participantId: string,
    readonly dialect: DialectName,
    readonly store: SqlitePersistence,
    readonly manager: ReliabilityManager,
    readonly channel: ReliableChannel,
    readonly transport: RelayTransport,
    readonly relayUrl: string | undefined,
    private readonly closeTransport: () => Promise<void>,
    private readonly options: SessionOptions,
  ) {}

  /**
   * Opens the store, the engine, the relay and the channel.
   * @throws StoreError `E_STORE_LOCKED` (another process holds this identity), RelayError
   * `E_RELAY_UNAVAILABLE`, SdsError `E_CONFIG_INVALID` (bad key or dialect mismatch).
   */
  static async open(options: SessionOptions): Promise<ChannelSession> {
    const key = options.key !== undefined && options.key !== "" ? parseChannelKey(options.key).key : undefined;
    const store = storeOrThrow(SqlitePersistence.open(options.dbPath));
    let closeTransport: (() => Promise<void>) | undefined;
    try {
      const { participantId, dialect, cursorNs } = readChannelSettings(store, options);
      const manager = new ReliabilityManager({ participantId, dialect, persistence: store, config: options.sdsConfig });
      let transport = options.transport;
      let relayUrl: string | undefined;
      if (transport === undefined) {
        const connected = await connectRelay(options.relayUrl, options.onStatus);
        transport = connected.transport;
        relayUrl = connected.url;
        closeTransport = connected.close;
      }
      const holder: { session?: ChannelSession } = {};
      const observed = observeEngine(
        manager,
        (messageId, deps) => holder.session?.rememberDependencies(messageId, deps),
        (wires) => {
          if (holder.session === undefined) return;
          holder.session.counters.receiveCalls += 1;
          holder.session.counters.receivedWires += wires;
        },
      );
      const cursorTransport = trackCursor(
        transport,
        (message) => {
          options.onEnvelope?.(message);
          holder.session?.rememberHash(message.hashHex);
        },
        (message) => {
          if (holder.session === undefined) return false;
          holder.session.ingestLive(message);
          return true;
        },
      );
      const channel = new ReliableChannel({
        channelId: options.channel,
        engine: observed,
        transport: cursorTransport,
        key,
        scheduler: timerScheduler(),
        tickIntervalMs: options.tickIntervalMs ?? 1000,
        sinceTimestampNs: cursorNs === undefined ? 0n : cursorNs > CURSOR_MARGIN_NS ? cursorNs - CURSOR_MARGIN_NS : 0n,
        // The session's store poll reads every window after the catch-up once, skipping what it
        // already saw; the channel's own store sync would read the same envelopes over again.
        ...(options.receive && storePollMs(options) > 0 ? { storeSyncIntervalMs: 0 } : {}),
      });
      const session = new ChannelSession(options.channel, participantId, dialect, store, manager, channel, transport, relayUrl, closeTransport ?? (async () => {}), options);
      holder.session = session;
      session.cursorNs = cursorNs;
      session.savedCursorNs = cursorNs;
      session.wire();
      if (options.receive && options.printedMarks !== true) session.startReceiving();
      return session;
    } catch (error) {
      await closeTransport?.().catch(() => undefined);
      store.closeSync();
      throw error;
    }
  }

  /**
   * Starts receiving (sessions opened with `printedMarks`). First re-delivers, through the
   * channel's reassembly and to the `onMessage` handlers, every message an earlier run
   * delivered but never marked printed (oldest first by lamport: causal order); `beforeLive`
   * runs right after those, before any live message can arrive.
   * @throws StoreError when the store cannot be read.
   */
  async start(options: { beforeLive?: () => void } = {}): Promise<void> {
    if (this.started || this.closed) return;
    if (this.options.printedMarks === true) {
      const loaded = await this.store.loadChannel(this.channelName);
      if (!loaded.ok) throw loaded.error;
      const history = loaded.value?.history ?? [];
      const { marks, unprinted } = PrintedMarks.open(this.store, this.channelName, this.participantId, history, this.manager.config.historyEntriesMax);
      this.marks = marks;
      for (const message of unprinted) this.rememberDependencies(message.messageId, message.causalHistory.map((entry) => entry.messageId));
      this.channel.redeliver(unprinted.map((message) => ({ channelId: message.channelId, messageId: message.messageId, senderId: message.senderId, lamportTimestamp: message.lamportTimestamp, content: message.content ?? new Uint8Array(0), ephemeral: false })));
      // The engine starts from the same read instead of loading the channel again.
      await this.manager.adopt(this.channelName, loaded.value);
    }
    options.beforeLive?.();
    if (this.options.receive) this.startReceiving();
  }

  /** Where a regular-file output ended when the last batch was marked (see {@link PrintedMarks}). */
  get lastOutput(): OutputPosition | undefined {
    return this.marks?.lastOutput;
  }

  /**
   * Marks messages printed (every id of each printed payload), with the output file's end when
   * it is one. A failing store is reported once on the status line: the lines were printed.
   */
  markPrinted(messageIds: readonly string[], output?: OutputPosition): void {
    if (this.marks === undefined || this.closed) return;
    try {
      this.marks.mark(messageIds, output);
    } catch (error) {
      if (this.marksFailed) return;
      this.marksFailed = true;
      this.options.onStatus?.(`could not save printed marks (a restart may print some messages again): ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private startReceiving(): void {
    if (this.started) return;
    this.started = true;
    this.channel.start();
    this.cursorTimer = setInterval(() => this.saveCursor(), CURSOR_SAVE_INTERVAL_MS);
    this.cursorTimer.unref();
    const pollMs = storePollMs(this.options);
    if (pollMs > 0) {
      this.pollTimer = setInterval(() => void this.pollStore(), pollMs);
      this.pollTimer.unref();
    }
  }

  private wire(): void {
    this.channel.on("received", ({ payload, meta }) => {
      const first = meta.messageIds[0] ?? "";
      const last = meta.messageIds[meta.messageIds.length - 1] ?? first;
      const dependencies = this.dependencies.get(first) ?? [];
      for (const id of meta.messageIds) this.dependencies.delete(id);
      const view: DeliveredView = { id: last, sender: meta.senderId, lamport: meta.lamportTimestamp, dependencies, payload, messageIds: meta.messageIds };
      for (const handler of this.messageHandlers) handler(view);
    });
    // A set lost in reassembly never prints: mark its messages so a restart does not retry them.
    this.channel.on("lost", (event) => {
      if (event.source === "reassembly") this.markPrinted(event.messageIds);
    });
    const count = (type: EngineEvent["type"], field: keyof SessionCounters) => this.manager.on(type, () => (this.counters[field] += 1));
    count("delivered", "delivered");
    count("acknowledged", "acknowledged");
    count("resent", "resent");
    count("missing", "missing");
    count("duplicate", "duplicates");
    count("lost", "lost");
    count("undelivered", "undelivered");
    count("repairAnswered", "repairAnswered");
    this.manager.on("repairRequested", (event: Extract<EngineEvent, { type: "repairRequested" }>) => (this.counters.repairRequested += event.messageIds.length));
  }

  /** Calls `handler` for every whole payload delivered, in causal order. */
  onMessage(handler: (message: DeliveredView) => void): () => void {
    this.messageHandlers.add(handler);
    return () => this.messageHandlers.delete(handler);
  }

  /** Sends one payload (segmented if large); resolves once committed and queued for publishing. */
  send(payload: Uint8Array): Promise<SendReceipt> {
    return this.channel.send(payload);
  }

  /**
   * Sends many payloads with ONE group commit (the manager's `sendMany` through the channel's
   * `sendMany`): nothing is published before the whole batch is durable.
   */
  sendBatch(payloads: readonly Uint8Array[]): Promise<SendReceipt[]> {
    return this.channel.sendMany(payloads);
  }

  /** One store poll: envelopes stored since the previous poll go through the channel (duplicates are filtered by SDS). */
  private async pollStore(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    try {
      // The first poll starts a little before the newest relay time seen (the catch-up covered the rest).
      let since = this.pollCursorNs ?? (this.cursorNs !== undefined && this.cursorNs > STORE_POLL_MARGIN_NS ? this.cursorNs - STORE_POLL_MARGIN_NS : 0n);
      const found = await this.transport.fetchSince(this.channel.contentTopic, since, { limit: STORE_POLL_ENVELOPES_MAX });
      const fresh: ReceivedEnvelope[] = [];
      for (const message of found) {
        if (message.storedAtNs >= since) since = message.storedAtNs + 1n;
        if (this.seenHashes.has(message.hashHex)) continue;
        this.rememberHash(message.hashHex);
        fresh.push(message);
      }
      if (this.closed) return;
      // All at once: the channel receives them in batches (one commit each), in this order.
      await Promise.all(fresh.map((message) => this.channel.ingest(message).then(() => this.advanceCursor(message.storedAtNs))));
      this.pollCursorNs = since;
    } catch {
      // A failed poll is retried at the next interval; the relay client reports connection trouble.
    } finally {
      this.polling = false;
    }
  }

  /**
   * Feeds a live or caught-up envelope to the channel (what the channel's own handler does) and
   * advances the catch-up cursor only once the channel has committed it: a process killed with
   * envelopes still queued resumes from before them.
   */
  private ingestLive(message: ReceivedEnvelope): void {
    void this.channel.ingest(message).then(() => this.advanceCursor(message.storedAtNs));
  }

  private rememberHash(hashHex: string): void {
    this.seenHashes.set(hashHex, true);
    while (this.seenHashes.size > SEEN_HASHES_MAX) this.seenHashes.delete(this.seenHashes.keys().next().value as string);
  }

  private rememberDependencies(messageId: string, dependencies: string[]): void {
    this.dependencies.set(messageId, dependencies);
    while (this.dependencies.size > DEPENDENCIES_ENTRIES_MAX) this.dependencies.delete(this.dependencies.keys().next().value as string);
  }

  private advanceCursor(storedAtNs: bigint): void {
    if (storedAtNs > 0n && (this.cursorNs === undefined || storedAtNs > this.cursorNs)) this.cursorNs = storedAtNs;
  }

  /** Persists the relay cursor if it moved (best effort: a failure only means a longer catch-up next time). */
  saveCursor(): void {
    if (this.closed || this.cursorNs === undefined || this.cursorNs === this.savedCursorNs) return;
    const bytes = textEncoder.encode(this.cursorNs.toString());
    if (this.store.putChannelSetting(this.channelName, CURSOR_SETTING, bytes).ok) this.savedCursorNs = this.cursorNs;
  }

  /** Stops the channel, waits for work in progress, saves the cursor, closes relay and store. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.cursorTimer) clearInterval(this.cursorTimer);
    if (this.pollTimer) clearInterval(this.pollTimer);
    try {
      await this.channel.stop();
      this.saveCursor();
    } finally {
      this.closed = true;
      await this.closeTransport().catch(() => undefined);
      this.store.closeSync();
    }
  }
}

