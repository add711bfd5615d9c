import { describe, expect, it } from "vitest";
import { createProgress, progressMode } from "../../src/app/progress.js";
import { renderTable } from "../../src/app/table.js";

describe("renderTable", () => {
  it("renders without ANSI codes when colour is off", () => {
    const text = renderTable(["peer", "sent"], [["alice", 3], ["bob", 12]], { color: false, title: "demo" });
    expect(text).not.toMatch(/\u001b\[/);
    expect(text).toContain("alice");
    expect(text).toContain("12");
    expect(text).toContain("demo");
  });
});

describe("progress", () => {
  it("is silent with --quiet, lines off a TTY, a spinner only on a TTY", () => {
    expect(progressMode({ quiet: true, stderrIsTTY: true }, {})).toBe("silent");
    expect(progressMode({ quiet: false, stderrIsTTY: false }, {})).toBe("lines");
    expect(progressMode({ quiet: false, stderrIsTTY: true }, { TERM: "dumb" })).toBe("lines");
    expect(progressMode({ quiet: false, stderrIsTTY: true }, { TERM: "xterm" })).toBe("spinner");
  });

  it("throttles plain progress lines", () => {
    const lines: string[] = [];
    let now = 0;
    const progress = createProgress({ quiet: false, stderrIsTTY: false, color: false, lineIntervalMs: 100, write: (text) => lines.push(text), nowMs: () => now }, {});
    progress.start("start");
    progress.update("a");
    now = 150;
    progress.update("b");
    progress.update("c");
    progress.update("d", true);
    progress.succeed("done");
    expect(lines).toEqual(["start\n", "b\n", "d\n", "done\n"]);
  });
});
