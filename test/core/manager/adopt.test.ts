import { describe, expect, it } from "vitest";
import { ReliabilityManager } from "../../../src/core/reliability-manager.js";
import { MemoryPersistence } from "../../../src/core/store/index.js";

describe("ReliabilityManager.adopt", () => {
  it("starts a channel from data the caller already read, without loading it again", async () => {
    const persistence = new MemoryPersistence();
    const first = new ReliabilityManager({ participantId: "alice", dialect: "spec", persistence });
    for (const text of ["one", "two", "three"]) await first.send("c", new TextEncoder().encode(text));
    const lamportBefore = first.inspect("c")?.lamport ?? 0;
    const loaded = await persistence.loadChannel("c");
    if (!loaded.ok) throw loaded.error;
    let loads = 0;
    const counting = new Proxy(persistence, {
      get(target, name, receiver) {
        if (name === "loadChannel") loads += 1;
        return Reflect.get(target, name, receiver);
      },
    });
    const second = new ReliabilityManager({ participantId: "alice", dialect: "spec", persistence: counting });
    await second.adopt("c", loaded.value);
    await second.send("c", new TextEncoder().encode("four"));
    expect(loads).toBe(0);
    expect(second.inspect("c")?.history.size).toBe(4);
    expect(second.inspect("c")?.lamport).toBeGreaterThan(lamportBefore);
    // A channel already loaded is left as it is.
    await second.adopt("c", undefined);
    expect(second.inspect("c")?.history.size).toBe(4);
  });
});
