#!/usr/bin/env node
/**
 * Build step after `tsc -b`: writes `oclif.manifest.json` (the command ids, flags, args and help
 * text of every command in dist/commands.js) so `sds --version`, `sds --help` and `sds <cmd>
 * --help` answer from that file without importing any command module, and running one command
 * costs one import of the command map. oclif reads the manifest from the package root only.
 *
 * A manifest must never outlive the code it describes: the old file is deleted before anything
 * else, so a failed generation leaves no manifest (oclif then discovers commands at run time,
 * slower but correct), and the new one is written under a temporary name and renamed into place.
 * `npm run build` also calls it with `--remove` BEFORE `tsc -b`, so a build whose compile fails
 * leaves no manifest from an older build behind either.
 * Plain JavaScript on purpose: it runs with plain `node` in `npm run build`, before any tsx.
 */
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Plugin } from "@oclif/core";

/** The package root: the directory holding package.json, one level above scripts/. */
const root = dirname(dirname(fileURLToPath(import.meta.url)));
// `--out FILE` writes elsewhere and leaves the package's manifest alone (used by the tests).
const outIndex = process.argv.indexOf("--out");
const manifestPath = outIndex > 0 ? process.argv[outIndex + 1] : join(root, "oclif.manifest.json");
if (!manifestPath) throw new Error("manifest: --out needs a file name");

if (outIndex < 0) {
  await rm(manifestPath, { force: true });
  await rm(join(root, ".oclif.manifest.json"), { force: true });
}
if (process.argv.includes("--remove")) process.exit(0);

const pjson = JSON.parse(await readFile(join(root, "package.json"), "utf8"));
// ignoreManifest: discover from dist/commands.js even if a manifest appeared meanwhile;
// errorOnManifestCreate: a command that fails to load fails the build instead of vanishing.
const plugin = new Plugin({ root, pjson, isRoot: true, type: "core", ignoreManifest: true, errorOnManifestCreate: true, respectNoCacheDefault: true });
await plugin.load();

const commandIds = Object.keys(plugin.manifest.commands);
const expectedIds = Object.keys((await import(pathToFileURL(join(root, "dist", "commands.js")).href)).COMMANDS);
const missing = expectedIds.filter((id) => !commandIds.includes(id));
if (missing.length > 0) throw new Error(`manifest: commands missing from the manifest: ${missing.join(", ")}`);

const temporaryPath = `${manifestPath}.${process.pid}.tmp`;
await writeFile(temporaryPath, `${JSON.stringify(plugin.manifest, null, 2)}\n`);
await rename(temporaryPath, manifestPath);
process.stderr.write(`${manifestPath}: ${commandIds.length} commands (${commandIds.join(", ")}), version ${plugin.manifest.version}\n`);
