import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { resolveDataDir, resolveIdentity, validateName } from "../../src/app/paths.js";

describe("paths", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "sds-paths-"));

  it("puts one database per identity and channel under the data dir", () => {
    expect(resolveIdentity({ as: "alice", dataDir, channel: "demo" })).toEqual({ identity: "alice", dbPath: join(dataDir, "alice", "demo.db") });
    expect(resolveIdentity({ dataDir, channel: "demo" }).identity).toBe("default");
  });

  it("lets --db override the file and names the identity after it", () => {
    expect(resolveIdentity({ db: "/x/bob.db", dataDir, channel: "demo" })).toEqual({ identity: "bob", dbPath: "/x/bob.db" });
    expect(resolveIdentity({ db: "/x/bob.db", as: "carol", dataDir, channel: "demo" }).identity).toBe("carol");
  });

  it("refuses names that could escape the data dir", () => {
    for (const name of ["../x", "a/b", "", ".hidden", "-flag", "x".repeat(65)]) {
      expect(() => validateName("identity", name)).toThrow(expect.objectContaining({ code: "E_USAGE" }));
    }
  });

  it("prefers SDS_DATA_DIR over oclif's data dir", () => {
    expect(resolveDataDir({ env: { SDS_DATA_DIR: "/tmp/a" }, configDataDir: "/tmp/b" })).toBe("/tmp/a");
    expect(resolveDataDir({ env: { SDS_DATA_DIR: "" }, configDataDir: "/tmp/b" })).toBe("/tmp/b");
  });
});
