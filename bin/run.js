#!/usr/bin/env node
/**
 * The `sds` entry point. `sds --version` answers here, from package.json, without loading oclif
 * (issue 7: start-up ≤ 3× `node -e 0`; importing and configuring oclif alone costs about twice
 * `node -e 0`). Everything else goes to oclif. The fast path prints exactly oclif's line
 * (`name/version platform-arch node-vX`, oclif's `config.userAgent`) and steps aside whenever
 * oclif could print something else: WSL (oclif says `wsl`), debug logging, or hooks declared.
 * One of our own commands (named in the manifest, no --help) runs on an oclif configuration
 * without plugins that imports that command's module only (`slimLoadOptions`).
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { arch, platform, release } from "node:os";
import { fileURLToPath } from "node:url";

const root = new URL("../", import.meta.url);

/** oclif's `--version` line, or undefined when only oclif itself can say it exactly. */
function versionLine() {
  if (process.env.DEBUG || process.env.SDS_DEBUG) return undefined; // oclif logs its start-up then
  const pjson = JSON.parse(readFileSync(new URL("package.json", root), "utf8"));
  const oclif = pjson.oclif ?? {};
  // oclif shows the version when the FIRST argument is one of its version flags.
  const versionFlags = new Set(["--version", ...(oclif.additionalVersionFlags ?? [])]);
  if (!versionFlags.has(process.argv[2]) || oclif.hooks !== undefined) return undefined;
  const system = platform();
  if (system === "linux" && mayBeWsl()) return undefined;
  const architecture = arch() === "ia32" ? "x86" : arch();
  return `${pjson.name}/${pjson.version || "0.0.0"} ${system}-${architecture} node-${process.version}`;
}

/** The markers oclif's WSL check looks at; any of them sends `--version` through oclif. */
function mayBeWsl() {
  if (release().toLowerCase().includes("microsoft")) return true;
  try {
    if (readFileSync("/proc/version", "utf8").toLowerCase().includes("microsoft")) return true;
  } catch {
    // no /proc/version: fall through to the path checks
  }
  return existsSync("/proc/sys/fs/binfmt_misc/WSLInterop") || existsSync("/run/WSL");
}

/**
 * Running one of our own commands needs neither oclif's plugins nor the other commands:
 * plugin-help and plugin-autocomplete add only the `help` and `autocomplete` commands (and no
 * hooks), and the explicit command map (dist/commands.js) imports every command module. So
 * when argv names one of our commands in the manifest and asks for no help, oclif gets a
 * configuration without plugins that loads the command from its own file,
 * dist/commands/<id with ":" as "/">.js (test/commands/startup.test.ts checks that every
 * command of the map lives there). Undefined otherwise: the full configuration.
 */
function slimLoadOptions() {
  const id = process.argv[2];
  if (id === undefined || id.startsWith("-") || process.argv.includes("--help")) return undefined;
  try {
    const manifest = JSON.parse(readFileSync(new URL("oclif.manifest.json", root), "utf8"));
    if (manifest.commands?.[id] === undefined || !existsSync(new URL(`dist/commands/${id.split(":").join("/")}.js`, root))) return undefined;
    const pjson = JSON.parse(readFileSync(new URL("package.json", root), "utf8"));
    if ((pjson.oclif?.plugins ?? []).some((name) => name !== "@oclif/plugin-help" && name !== "@oclif/plugin-autocomplete")) return undefined;
    const commands = { strategy: "pattern", target: "./dist/commands" };
    return { root: fileURLToPath(root), pjson: { ...pjson, oclif: { ...pjson.oclif, plugins: [], commands } } };
  } catch {
    return undefined;
  }
}

const version = versionLine();
if (version !== undefined) {
  process.stdout.write(`${version}\n`);
} else {
  // `npm run build` writes oclif.manifest.json so --help imports no command module.
  // A plain `tsc -b` afterwards can leave it older than the commands it describes: then it is
  // dropped and oclif discovers the commands itself (slower, never wrong).
  try {
    const manifestMs = statSync(new URL("oclif.manifest.json", root)).mtimeMs;
    const commands = readdirSync(new URL("dist/commands/", root), { recursive: true }).map((file) => `dist/commands/${file}`);
    if (["dist/commands.js", ...commands].some((file) => file.endsWith(".js") && statSync(new URL(file, root)).mtimeMs > manifestMs)) {
      rmSync(new URL("oclif.manifest.json", root), { force: true });
    }
  } catch {
    // no manifest (or no dist yet): nothing to check
  }
  const { execute } = await import("@oclif/core/execute");
  const slim = slimLoadOptions();
  await execute(slim === undefined ? { dir: import.meta.url } : { loadOptions: slim });
}
