/**
 * A `@waku/sds` MessageChannel (the js-waku reference implementation, spec dialect) bridged
 * onto a real `sds relay` through our RelayClient in the test process, exchanging messages
 * with `sds send` / `sds listen` processes. js-waku does not segment: what it sends arrives
 * as-is at `sds listen`; what `sds send` sends is one nim-segmentation segment inside SDS
 * content, which the test unwraps with our segment codec. Needs `npx tsc -b` first.
 */
import { MessageChannel, MessageChannelEvent, Message } from "@waku/sds";
import { afterAll, describe, expect, it } from "vitest";
import { decodeSegment } from "../../src/core/channel/segmentation.js";
import { RelayClient } from "../../src/core/relay/client.js";
import { contentTopicFor } from "../../src/core/relay/envelope.js";
import { killAll, records, run, sds, startRelay, tempDir } from "./harness.js";

describe("interop with @waku/sds over the relay", () => {
  const data = tempDir();
  const clients: RelayClient[] = [];
  afterAll(async () => {
    for (const client of clients) await client.close();
    await killAll();
    data.cleanup();
  });

  it("exchanges messages both ways with sds peers, in causal order", async () => {
    const relay = await startRelay();
    const env = { SDS_DATA_DIR: data.path, SDS_RELAY: relay.url };
    const topic = contentTopicFor("interop");
    const client = await RelayClient.connect(relay.url);
    clients.push(client);
    const js = new MessageChannel("interop", "js-peer");
    const contents = new Map<string, Uint8Array>();
    const delivered: string[] = [];
    js.addEventListener(MessageChannelEvent.InMessageDelivered, (event) => {
      const content = contents.get(event.detail);
      if (content) delivered.push(Buffer.from(decodeSegment(content).segmentPayload).toString("utf8"));
    });
    client.subscribe(topic, (message) => {
      const decoded = Message.decode(message.envelope.payload);
      if (!decoded) return;
      if (decoded.content && decoded.content.length > 0) contents.set(decoded.messageId, decoded.content);
      js.pushIncomingMessage(decoded, message.hash);
      void js.processTasks();
    });

    const listener = sds(["listen", "interop", "--as", "bob", "--json", "--count", "4", "--timeout", "60"], { env, stdin: "ignore" });
    await listener.waitFor((_, stderr) => stderr.includes("listening on"));
    const sent = await run(["send", "interop", "--as", "alice"], { env, input: "from sds 1\nfrom sds 2\n" });
    expect(sent.status, sent.stderr).toBe(0);
    const deadline = Date.now() + 30_000;
    while (delivered.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(delivered).toEqual(["from sds 1", "from sds 2"]);

    for (const text of ["from js 1", "from js 2"]) {
      js.pushOutgoingMessage(new TextEncoder().encode(text), async (message) => {
        const ack = await client.publish(topic, { payload: message.encode(), contentTopic: topic, timestampNs: BigInt(Date.now()) * 1_000_000n });
        return { success: true, retrievalHint: ack.hash };
      });
      await js.processTasks();
    }
    expect(await listener.exited, listener.stderr()).toBe(0);
    const stream = records(listener.lines());
    expect(stream.map((record) => record.payload)).toEqual(["from sds 1", "from sds 2", "from js 1", "from js 2"]);
    const jsFirst = stream[2];
    expect(jsFirst?.sender).toBe("js-peer");
    // js-waku's causal history names what it had delivered: the two sds messages come first.
    expect(jsFirst?.dependencies).toEqual(expect.arrayContaining([stream[0]?.id, stream[1]?.id]));
  }, 90_000);
});
