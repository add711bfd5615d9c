import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { RelayClient } from "../../src/core/relay/client.js";
import type { ReceivedEnvelope } from "../../src/core/relay/transport.js";

const RUN = resolve(import.meta.dirname, "../../bin/run.js");
const TOPIC = "/sds/1/demo/proto";
const children: ChildProcessWithoutNullStreams[] = [];

interface Started {
  child: ChildProcessWithoutNullStreams;
  firstLine: string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `sds relay ARGS` and resolves once its first stdout line arrived. */
async function startRelay(args: string[]): Promise<Started> {
  const child = spawn(process.execPath, [RUN, "relay", ...args], { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
  children.push(child);
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.on("exit", (code, signal) => done({ code, signal })));
  const lines = createInterface({ input: child.stdout });
  const firstLine = await new Promise<string>((done, fail) => {
    lines.once("line", done);
    void exit.then(({ code }) => fail(new Error(`relay exited ${code} before printing: ${stderr}`)));
  });
  return { child, firstLine, stderr: () => stderr, exit };
}

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
});

describe("sds relay", () => {
  it("prints its URL first, relays between clients, and exits 130 on SIGINT after closing them with 1001", async () => {
    const relay = await startRelay(["--port", "0", "--verbose"]);
    expect(relay.firstLine).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    const url = relay.firstLine;
    const alice = await RelayClient.connect(url, { pingIntervalMs: 0 });
    const disconnects: number[] = [];
    const bob = await RelayClient.connect(url, { pingIntervalMs: 0, reconnectAttemptsMax: 0, onEvent: (event) => event.type === "disconnected" && disconnects.push(event.code) });
    const received: ReceivedEnvelope[] = [];
    bob.subscribe(TOPIC, (message) => received.push(message));
    await bob.fetchSince(TOPIC, 0n);
    const ack = await alice.publish(TOPIC, { payload: new TextEncoder().encode("over the relay"), contentTopic: TOPIC });
    while (received.length === 0) await new Promise((done) => setTimeout(done, 10));
    expect(received[0]?.hashHex).toBe(ack.hashHex);
    expect(new TextDecoder().decode(received[0]?.envelope.payload)).toBe("over the relay");
    relay.child.kill("SIGINT");
    expect((await relay.exit).code).toBe(130);
    expect(disconnects).toEqual([1001]);
    expect(relay.stderr()).toMatch(/relay stopped: 2 connections, 1 published, 1 delivered/);
    expect(relay.stderr()).toMatch(/#1 connected from 127\.0\.0\.1:\d+/);
    expect(relay.stderr()).toMatch(/#2 closed \(1001\)/);
    await alice.close();
    await bob.close();
  });

  it("--json prints a ready record, SIGTERM exits 143 with a stopped record, the store file survives", async () => {
    const directory = mkdtempSync(join(tmpdir(), "sds-relay-cmd-"));
    try {
      const storeFile = join(directory, "relay.db");
      const first = await startRelay(["--port", "0", "--json", "--store-file", storeFile]);
      const ready = JSON.parse(first.firstLine) as { type: string; url: string; port: number; pubsubTopic: string };
      expect(ready).toMatchObject({ type: "ready", pubsubTopic: "/waku/2/default-waku/proto" });
      const alice = await RelayClient.connect(ready.url, { pingIntervalMs: 0, reconnectAttemptsMax: 0 });
      const ack = await alice.publish(TOPIC, { payload: new Uint8Array([1, 2, 3]), contentTopic: TOPIC });
      await alice.close();
      first.child.kill("SIGTERM");
      expect((await first.exit).code).toBe(143);
      const second = await startRelay(["--port", "0", "--store-file", storeFile, "-q"]);
      const bob = await RelayClient.connect(second.firstLine, { pingIntervalMs: 0 });
      expect((await bob.fetchByHashes(TOPIC, [ack.hash])).map((message) => message.hashHex)).toEqual([ack.hashHex]);
      await bob.close();
      second.child.kill("SIGINT");
      expect((await second.exit).code).toBe(130);
      expect(second.stderr()).toBe("");
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it("exits 5 when the port is taken and 2 on a bad flag", async () => {
    const first = await startRelay(["--port", "0", "-q"]);
    const port = new URL(first.firstLine).port;
    const second = spawn(process.execPath, [RUN, "relay", "--port", port], { stdio: "pipe" });
    let stderr = "";
    second.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((done) => second.on("exit", done));
    expect(code).toBe(5);
    expect(stderr).toMatch(/E_RELAY_UNAVAILABLE.*EADDRINUSE/);
    first.child.kill("SIGINT");
    await first.exit;
    const bad = spawn(process.execPath, [RUN, "relay", "--drop-rate", "1.5"], { stdio: "pipe" });
    expect(await new Promise<number | null>((done) => bad.on("exit", done))).toBe(2);
  });
});
