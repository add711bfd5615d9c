/**
 * How delivered messages are written on stdout by `listen` and `channel open`: text lines
 * (default), NUL-terminated records (`-0`), one base64 line per message (`--base64`), or
 * NDJSON (`--json`). NDJSON follows docs/cli.md: lamport as a decimal string, payload as text
 * when it is valid UTF-8 (`"encoding":"utf8"`) and base64 otherwise (`"encoding":"base64"`,
 * field `payloadBase64`), so `jq` pipelines never lose bytes or precision.
 */

/** A message delivered by the channel, as the CLI shows it. */
export interface DeliveredView {
  /** SDS message id (hex). */
  id: string;
  /** Sender id of the participant that wrote it. */
  sender: string;
  /** Lamport timestamp; absent on ephemeral messages. */
  lamport: bigint | undefined;
  /** Ids of the messages it causally depends on (its causal history), oldest first. */
  dependencies: readonly string[];
  /** The application payload. */
  payload: Uint8Array;
  /** Every SDS message the payload came in (its segments; one id when unsegmented). */
  messageIds?: readonly string[];
}

/** How `listen` prints messages. */
export type OutputMode = "text" | "nul" | "base64" | "json";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The payload as text when it is valid UTF-8, else `undefined`. */
export function payloadText(payload: Uint8Array): string | undefined {
  try {
    return utf8.decode(payload);
  } catch {
    return undefined;
  }
}

/** The NDJSON record of one delivered message (`type: "message"`). */
export function messageRecord(message: DeliveredView): Record<string, unknown> {
  const text = payloadText(message.payload);
  return {
    type: "message",
    id: message.id,
    sender: message.sender,
    lamport: message.lamport === undefined ? null : message.lamport.toString(),
    dependencies: [...message.dependencies],
    ...(text !== undefined ? { encoding: "utf8", payload: text } : { encoding: "base64", payloadBase64: Buffer.from(message.payload).toString("base64") }),
    bytes: message.payload.length,
  };
}

/**
 * Formats one message for stdout. `notText` is set when a text-mode payload was not UTF-8 and
 * was printed as base64 instead (the caller warns once on stderr).
 */
export function formatMessage(message: DeliveredView, mode: OutputMode): { data: string | Buffer; notText: boolean } {
  switch (mode) {
    case "json":
      return { data: `${JSON.stringify(messageRecord(message))}\n`, notText: false };
    case "base64":
      return { data: `${Buffer.from(message.payload).toString("base64")}\n`, notText: false };
    case "nul":
      // Raw bytes, NUL-terminated: binary-safe, for `xargs -0` and friends.
      return { data: Buffer.concat([Buffer.from(message.payload), Buffer.from([0])]), notText: false };
    default: {
      const text = payloadText(message.payload);
      if (text === undefined) return { data: `${Buffer.from(message.payload).toString("base64")}\n`, notText: true };
      return { data: `${text}\n`, notText: false };
    }
  }
}
