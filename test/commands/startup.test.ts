/**
 * Start-up cost guards (issue 7). oclif imports the whole command map (src/commands.ts) to run any
 * one command, so whatever a command module imports at top level is paid by every `sds` call:
 * heavy packages must be loaded inside run(). The build writes oclif.manifest.json so --version
 * and --help need no command module at all; the manifest must describe every command.
 * Timing itself is measured by bench/startup.ts, not asserted here (machines are noisy).
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { COMMANDS } from "../../src/commands.js";
import { RELAY_COMMAND_PORT_DEFAULT } from "../../src/commands/relay.js";
import { DEFAULT_RELAY_PORT } from "../../src/core/relay/server.js";

const root = resolve(import.meta.dirname, "../..");
/** Packages that cost tens to hundreds of milliseconds to import. */
const HEAVY_PACKAGES = ["ws", "better-sqlite3", "ora", "cli-table3"];

/** Static value imports of a TypeScript module (`import type` and `await import()` excluded). */
function valueImports(file: string): string[] {
  const source = readFileSync(file, "utf8");
  const specifiers: string[] = [];
  for (const match of source.matchAll(/^(?:import|export)\s+(type\s+)?(?:[^;"]*?\sfrom\s+)?"([^"]+)";/gm)) {
    if (match[1] === undefined && match[2] !== undefined) specifiers.push(match[2]);
  }
  return specifiers;
}

/** Every package reachable through static value imports from `entry`, with the chain that reaches it. */
function reachablePackages(entry: string): Map<string, string[]> {
  const packages = new Map<string, string[]>();
  const seen = new Set<string>();
  const visit = (file: string, chain: string[]): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const specifier of valueImports(file)) {
      if (specifier.startsWith(".")) visit(resolve(dirname(file), specifier.replace(/\.js$/, ".ts")), [...chain, relative(root, file)]);
      else if (!specifier.startsWith("node:") && !packages.has(specifier)) packages.set(specifier, [...chain, relative(root, file)]);
    }
  };
  visit(join(root, "src/commands.ts"), []);
  return packages;
}

describe("command map start-up", () => {
  it("loads no heavy package at import time (they load inside run())", () => {
    const packages = reachablePackages(join(root, "src/commands.ts"));
    expect(packages.has("@oclif/core/flags")).toBe(true); // the walk does follow the imports
    const heavy = HEAVY_PACKAGES.filter((name) => packages.has(name)).map((name) => `${name} via ${packages.get(name)?.join(" -> ")}`);
    expect(heavy).toEqual([]);
  });

  it("command modules import oclif through its subpaths (its index also loads semver for a version check)", () => {
    const dir = join(root, "src/commands");
    const files = readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((file) => file.endsWith(".ts")).map((file) => join(dir, file));
    expect(files.length).toBeGreaterThanOrEqual(Object.keys(COMMANDS).length);
    const offenders = files.filter((file) => valueImports(file).includes("@oclif/core")).map((file) => relative(root, file));
    expect(offenders).toEqual([]);
  });

  it("the relay command's default port is the relay server's", () => {
    expect(RELAY_COMMAND_PORT_DEFAULT).toBe(DEFAULT_RELAY_PORT);
  });
});

describe("scripts/manifest.js", () => {
  const dir = mkdtempSync(join(tmpdir(), "sds-manifest-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("describes every command of the map with its flags, at the package version", () => {
    if (!existsSync(join(root, "dist", "commands.js"))) spawnSync("npx", ["tsc", "-b"], { cwd: root, stdio: "inherit" });
    const out = join(dir, "manifest.json");
    const result = spawnSync(process.execPath, [join(root, "scripts/manifest.js"), "--out", out], { cwd: root, encoding: "utf8" });
    expect(result.stderr).toContain("commands");
    expect(result.status).toBe(0);
    const manifest = JSON.parse(readFileSync(out, "utf8")) as { version: string; commands: Record<string, { flags: Record<string, unknown>; args: Record<string, unknown> }> };
    const pjson = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
    expect(manifest.version).toBe(pjson.version);
    expect(Object.keys(manifest.commands).sort()).toEqual(Object.keys(COMMANDS).sort());
    for (const [id, command] of Object.entries(COMMANDS)) {
      const cached = manifest.commands[id];
      expect(cached, id).toBeDefined();
      for (const flag of Object.keys(command.flags ?? {})) expect(cached?.flags, `${id} --${flag}`).toHaveProperty([flag]);
      for (const arg of Object.keys(command.args ?? {})) expect(cached?.args, `${id} ${arg}`).toHaveProperty([arg]);
    }
  });
});

describe("bin/run.js --version fast path", () => {
  const bin = join(root, "bin/run.js");
  const sds = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: "utf8", env: { ...process.env, DEBUG: "", SDS_DEBUG: "", ...env } });

  it("prints oclif's own version line, byte for byte, and exits 0", () => {
    const fast = sds(["--version"]);
    // SDS_DEBUG sends --version through oclif (its debug log goes to stderr, the line to stdout).
    const viaOclif = sds(["--version"], { SDS_DEBUG: "1" });
    expect(viaOclif.status).toBe(0);
    expect(fast.status).toBe(0);
    expect(fast.stdout).toBe(viaOclif.stdout);
    expect(fast.stdout).toMatch(/^sds-toolkit\/\d+\.\d+\.\d+\S* \S+-\S+ node-v\d+\.\d+\.\d+\n$/);
    expect(fast.stderr).toBe("");
  });

  it("ignores what follows --version, as oclif does", () => {
    expect(sds(["--version", "decode"]).stdout).toBe(sds(["--version"]).stdout);
  });

  it("leaves other spellings to oclif: -v and `version` are not commands, `decode --version` not a flag", () => {
    for (const args of [["-v"], ["version"], ["decode", "--version"]]) {
      const run = sds(args);
      expect(run.status, args.join(" ")).toBe(2);
      expect(run.stdout, args.join(" ")).toBe("");
    }
  });
});

describe("bin/run.js runs our own commands without oclif's plugins and the other commands", () => {
  it("finds every command of the map as the default export of commands/<id with : as />", async () => {
    for (const [id, command] of Object.entries(COMMANDS)) {
      const file = join(root, "src/commands", `${id.split(":").join("/")}.ts`);
      const module = (await import(/* @vite-ignore */ file)) as { default: unknown };
      expect(module.default, id).toBe(command);
    }
  });


  const dir = mkdtempSync(join(tmpdir(), "sds-slim-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const blob = "0a05616c696365120873796e632d6162631a0a6d792d6368616e6e656c5081d095ffbc315a0b0a026d311a05616c696365";

  it("prints the same output and exit codes as the full configuration", () => {
    // A copy of the package whose manifest we control: with it the slim path is taken, without it not.
    mkdirSync(join(dir, "bin"));
    copyFileSync(join(root, "bin/run.js"), join(dir, "bin/run.js"));
    copyFileSync(join(root, "package.json"), join(dir, "package.json"));
    symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
    symlinkSync(join(root, "dist"), join(dir, "dist"));
    const sds = (args: string[]) => spawnSync(process.execPath, [join(dir, "bin/run.js"), ...args], { cwd: dir, encoding: "utf8" });
    const cases = [["decode", "--hex", blob, "--json"], ["decode", "--hex", "zz"], ["decode", "--bogus"]];
    const full = cases.map(sds);
    const made = spawnSync(process.execPath, [join(root, "scripts/manifest.js"), "--out", join(dir, "oclif.manifest.json")], { cwd: root, encoding: "utf8" });
    expect(made.status, made.stderr).toBe(0);
    const slim = cases.map(sds);
    cases.forEach((args, index) => {
      expect(slim[index]!.status, args.join(" ")).toBe(full[index]!.status);
      expect(slim[index]!.stdout, args.join(" ")).toBe(full[index]!.stdout);
      expect(slim[index]!.stderr, args.join(" ")).toBe(full[index]!.stderr);
    });
    expect(full.map((run) => run.status)).toEqual([0, 3, 2]);
  });
});
