/**
 * Virtual time and the event queue of the simulator.
 *
 * Time is an integer count of virtual milliseconds that only moves when the scheduler pops the
 * next event; nothing reads the wall clock. Events at the same instant run in the order they
 * were scheduled (a sequence number breaks ties), so a run is a pure function of its seed.
 */

/** An action run at a virtual instant. May be async (the engine API is). */
export type SimAction = () => void | Promise<void>;

interface QueuedEvent {
  atMs: number;
  sequence: number;
  label: string;
  action: SimAction;
}

/** A binary min-heap ordered by (atMs, sequence). */
class EventHeap {
  private readonly items: QueuedEvent[] = [];

  get size(): number {
    return this.items.length;
  }

  push(event: QueuedEvent): void {
    const items = this.items;
    items.push(event);
    let index = items.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!before(items[index] as QueuedEvent, items[parent] as QueuedEvent)) break;
      swap(items, index, parent);
      index = parent;
    }
  }

  peek(): QueuedEvent | undefined {
    return this.items[0];
  }

  pop(): QueuedEvent | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    items[0] = last;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      if (left < items.length && before(items[left] as QueuedEvent, items[smallest] as QueuedEvent)) smallest = left;
      if (right < items.length && before(items[right] as QueuedEvent, items[smallest] as QueuedEvent)) smallest = right;
      if (smallest === index) break;
      swap(items, index, smallest);
      index = smallest;
    }
    return top;
  }
}

function before(x: QueuedEvent, y: QueuedEvent): boolean {
  return x.atMs < y.atMs || (x.atMs === y.atMs && x.sequence < y.sequence);
}

function swap(items: QueuedEvent[], i: number, j: number): void {
  const held = items[i] as QueuedEvent;
  items[i] = items[j] as QueuedEvent;
  items[j] = held;
}

/** The virtual clock plus the queue of future events. */
export class Scheduler {
  private readonly heap = new EventHeap();
  private sequence = 0;
  private currentMs: number;
  /** Events run so far (a cheap progress and budget measure). */
  eventsRun = 0;

  /** `startMs`: the virtual Unix time the run starts at (so lamport values look realistic). */
  constructor(startMs: number) {
    this.currentMs = startMs;
  }

  /** Current virtual time in milliseconds. */
  get nowMs(): number {
    return this.currentMs;
  }

  /** Events waiting. */
  get pending(): number {
    return this.heap.size;
  }

  /** Runs `action` `delayMs` (≥ 0, rounded) after now. */
  after(delayMs: number, label: string, action: SimAction): void {
    const atMs = this.currentMs + Math.max(0, Math.round(delayMs));
    this.heap.push({ atMs, sequence: this.sequence++, label, action });
  }

  /**
   * Runs events in time order until the queue is empty, virtual time would pass `untilMs`, or
   * `stop()` returns true (checked between events). Leaves the clock at `untilMs` when the
   * queue runs past it, so the next phase starts there.
   */
  async runUntil(untilMs: number, stop: () => boolean = () => false): Promise<void> {
    for (;;) {
      if (stop()) return;
      const next = this.heap.peek();
      if (next === undefined || next.atMs > untilMs) {
        this.currentMs = Math.max(this.currentMs, untilMs);
        return;
      }
      this.heap.pop();
      this.currentMs = next.atMs;
      this.eventsRun += 1;
      await next.action();
    }
  }
}
