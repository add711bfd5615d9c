import { describe, expect, it } from "vitest";
import { ReliabilityManager } from "../../../../src/core/reliability-manager.js";
import { FakeClock } from "./support.js";

const HOUR_MS = 3_600_000;
const bytes = (text: string) => new TextEncoder().encode(text);

describe("timers after a backward clock jump", () => {
  for (const dialect of ["spec", "nim"] as const) {
    it(`${dialect}: a resend is due one interval after the jump, not an hour later`, async () => {
      const clock = new FakeClock(1_800_000_000_000);
      const alice = new ReliabilityManager({ participantId: "alice", dialect, now: () => clock.now(), random: () => 0.5 });
      const sent = await alice.send("c", bytes("hello"));
      clock.advance(-HOUR_MS);
      const isResend = (wire: Uint8Array) => Buffer.from(wire).equals(Buffer.from(sent.wire));
      expect((await alice.tick()).wire.filter(isResend)).toHaveLength(0);
      clock.advance(alice.config.resendIntervalMs);
      // Other wires (a spec sync message) may come too; the resend must be among them.
      expect((await alice.tick()).wire.filter(isResend)).toHaveLength(1);
    });
  }
});
