/**
 * The exact wire bytes of messages the channel holds (received ones and our own), so an SDS-R
 * repair answer re-publishes the ORIGINAL message, bloom filter and all, as nim-sds does with
 * its `cachedMessage`: history keeps messages without their filter (18 KB each in the spec
 * dialect), and a re-encoded copy would lack it. Bounded by bytes per channel, oldest cached
 * first out; an entry also leaves when its message leaves history or the incoming buffer.
 * Not persisted: after a restart, answers fall back to re-encoding the history copy.
 */

/** Default cap of one channel's cache, bytes (≈ 440 spec-dialect messages with their 18 KB filter). */
export const WIRE_CACHE_BYTES_MAX_DEFAULT = 8 * 1024 * 1024;

/** Id → exact wire bytes, insertion ordered, at most `bytesMax` bytes in total. */
export class WireCache {
  private readonly wires = new Map<string, Uint8Array>();
  private totalBytes = 0;

  /** @param bytesMax cap in bytes (0 turns caching off); a wire larger than it is not kept. */
  constructor(readonly bytesMax: number) {}

  /** Bytes held. */
  get bytes(): number {
    return this.totalBytes;
  }

  /** Messages held. */
  get size(): number {
    return this.wires.size;
  }

  /** Keeps `wire` (not copied: pass bytes nobody will mutate) for `messageId`, evicting the oldest beyond the cap. */
  set(messageId: string, wire: Uint8Array): void {
    if (wire.length > this.bytesMax) return;
    this.delete(messageId);
    this.wires.set(messageId, wire);
    this.totalBytes += wire.length;
    while (this.totalBytes > this.bytesMax) {
      const oldest = this.wires.keys().next().value;
      if (oldest === undefined) break;
      this.delete(oldest);
    }
  }

  /** The bytes of `messageId`, if kept. */
  get(messageId: string): Uint8Array | undefined {
    return this.wires.get(messageId);
  }

  /** Forgets `messageId`. */
  delete(messageId: string): void {
    const wire = this.wires.get(messageId);
    if (wire === undefined) return;
    this.wires.delete(messageId);
    this.totalBytes -= wire.length;
  }
}
