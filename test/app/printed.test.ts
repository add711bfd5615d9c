import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type OutputPosition, TRACKING_SETTING, outputPosition, planReprint } from "../../src/app/printed.js";
import type { DeliveredView } from "../../src/app/render.js";
import { ChannelSession } from "../../src/app/session.js";
import { MemoryHub } from "../../src/core/relay/memory-hub.js";
import { tempDir } from "../e2e/harness.js";

const encoder = new TextEncoder();
const text = (message: DeliveredView) => new TextDecoder().decode(message.payload);

async function until(condition: () => boolean): Promise<void> {
  for (let tries = 0; tries < 200 && !condition(); tries += 1) await new Promise((resolve) => setTimeout(resolve, 20));
  expect(condition()).toBe(true);
}

describe("printed marks (listen's crash safety)", () => {
  const dir = tempDir("sds-printed-");
  afterAll(() => dir.cleanup());

  it("a restart re-delivers exactly the delivered messages that were never marked, before anything live", async () => {
    const hub = new MemoryHub();
    const open = (identity: string, printedMarks: boolean) =>
      ChannelSession.open({ channel: "p", identity, dbPath: join(dir.path, `${identity}.db`), transport: hub.connect(), receive: true, storePollIntervalMs: 0, printedMarks });
    const alice = await open("alice", false);
    let bob = await open("bob", true);
    let got: DeliveredView[] = [];
    bob.onMessage((message) => got.push(message));
    await bob.start();
    for (const line of ["one", "two", "three"]) await alice.send(encoder.encode(line));
    await until(() => got.length === 3);
    bob.markPrinted(got[0]?.messageIds ?? []);
    bob.markPrinted(got[1]?.messageIds ?? []);
    await bob.close();

    bob = await open("bob", true);
    got = [];
    const order: string[] = [];
    bob.onMessage((message) => {
      got.push(message);
      order.push(`message:${text(message)}`);
    });
    await bob.start({ beforeLive: () => order.push("live") });
    expect(order).toEqual(["message:three", "live"]);
    expect(got[0]?.sender).toBe(alice.participantId);
    expect(got[0]?.dependencies.length).toBeGreaterThan(0);
    bob.markPrinted(got[0]?.messageIds ?? []);
    await alice.send(encoder.encode("four"));
    await until(() => got.length === 2);
    expect(text(got[1] as DeliveredView)).toBe("four");
    await bob.close();

    // "four" was delivered but not marked: it alone comes back.
    bob = await open("bob", true);
    got = [];
    bob.onMessage((message) => got.push(message));
    await bob.start();
    expect(got.map(text)).toEqual(["four"]);
    bob.markPrinted(got[0]?.messageIds ?? []);
    await bob.close();
    bob = await open("bob", true);
    got = [];
    bob.onMessage((message) => got.push(message));
    await bob.start();
    expect(got).toEqual([]);
    await bob.close();
    await alice.close();
  });

  it("a database from before marks counts its whole history as printed", async () => {
    const hub = new MemoryHub();
    const open = (identity: string, printedMarks: boolean) =>
      ChannelSession.open({ channel: "u", identity, dbPath: join(dir.path, `${identity}-u.db`), transport: hub.connect(), receive: true, storePollIntervalMs: 0, printedMarks });
    const alice = await open("alice", false);
    let bob = await open("bob", false);
    let count = 0;
    bob.onMessage(() => (count += 1));
    await alice.send(encoder.encode("old"));
    await until(() => count === 1);
    // What an older version left: no tracking row.
    expect(bob.store.putChannelSettings("u", [[TRACKING_SETTING, undefined]]).ok).toBe(true);
    await bob.close();
    bob = await open("bob", true);
    const got: DeliveredView[] = [];
    bob.onMessage((message) => got.push(message));
    await bob.start();
    expect(got).toEqual([]);
    await bob.close();
    await alice.close();
  });
});

describe("planReprint", () => {
  const dir = tempDir("sds-reprint-");
  afterAll(() => dir.cleanup());
  const entry = (line: string, id: string) => ({ bytes: Buffer.from(`${line}\n`), messageIds: [id] });
  const entries = [entry("alpha", "a"), entry("bravo", "b"), entry("charlie", "c")];

  function fileWith(name: string, before: string, after: string): { fd: number; last: OutputPosition } {
    const path = join(dir.path, name);
    const fd = openSync(path, "a");
    writeSync(fd, before);
    const last = outputPosition(fd) as OutputPosition;
    writeSync(fd, after);
    return { fd, last };
  }

  it("skips what the file already holds, in any order, and completes a partial line first", () => {
    const { fd, last } = fileWith("partial", "earlier\n", "bravo\nalpha\nchar");
    const plan = planReprint(fd, last, entries);
    expect(plan.skipped).toBe(2);
    expect(Buffer.concat(plan.write).toString()).toBe("lie\n");
    expect(plan.messageIds.sort()).toEqual(["a", "b", "c"]);
    writeSync(fd, Buffer.concat(plan.write));
    closeSync(fd);
    expect(readFileSync(join(dir.path, "partial"), "utf8")).toBe("earlier\nbravo\nalpha\ncharlie\n");
  });

  it("writes everything when the file did not grow, grew with something else, or is another file", () => {
    const same = fileWith("same", "x\n", "");
    expect(planReprint(same.fd, same.last, entries).write.length).toBe(3);
    const other = fileWith("other", "x\n", "zulu\n");
    expect(planReprint(other.fd, other.last, entries)).toMatchObject({ skipped: 0, written: 3 });
    const moved = fileWith("moved", "x\n", "alpha\n");
    expect(planReprint(moved.fd, { ...moved.last, ino: moved.last.ino + 1 }, entries).written).toBe(3);
    expect(planReprint(moved.fd, undefined, entries).written).toBe(3);
    for (const { fd } of [same, other, moved]) closeSync(fd);
  });

  it("writes at most `limit` entries and leaves the rest unmarked", () => {
    const { fd, last } = fileWith("limit", "", "alpha\n");
    const plan = planReprint(fd, last, entries, 1);
    expect(plan).toMatchObject({ skipped: 1, written: 1 });
    expect(Buffer.concat(plan.write).toString()).toBe("bravo\n");
    expect(plan.messageIds).toEqual(["a", "b"]);
    closeSync(fd);
  });
});
