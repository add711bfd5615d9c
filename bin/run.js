#!/usr/bin/env node
import { readdirSync, rmSync, statSync } from "node:fs";
import { execute } from "@oclif/core/execute";

// `npm run build` writes oclif.manifest.json so --version and --help import no command module.
// A plain `tsc -b` afterwards can leave it older than the commands it describes: then it is
// dropped and oclif discovers the commands itself (slower, never wrong).
const root = new URL("../", import.meta.url);
try {
  const manifestMs = statSync(new URL("oclif.manifest.json", root)).mtimeMs;
  const commands = readdirSync(new URL("dist/commands/", root), { recursive: true }).map((file) => `dist/commands/${file}`);
  if (["dist/commands.js", ...commands].some((file) => file.endsWith(".js") && statSync(new URL(file, root)).mtimeMs > manifestMs)) {
    rmSync(new URL("oclif.manifest.json", root), { force: true });
  }
} catch {
  // no manifest (or no dist yet): nothing to check
}

await execute({ dir: import.meta.url });
