/**
 * Start-up cost: `sds --version` and `sds decode` of one blob, against `node -e 0` (the floor
 * of any Node CLI), measured alternately in one run so machine noise hits both alike.
 * Target: ≤ 3× `node -e 0`. Run alone: `npm run build && node --import tsx bench/startup.ts`.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { emitFigures, median, printTable } from "./lib.js";

const bin = fileURLToPath(new URL("../bin/run.js", import.meta.url));
const rounds = Number(process.env.BENCH_ROUNDS ?? 21);
// Without the manifest (`npm run build` writes it) oclif imports every command to list them.
if (!existsSync(fileURLToPath(new URL("../oclif.manifest.json", import.meta.url)))) {
  process.stderr.write("warning: no oclif.manifest.json (run `npm run build`): these figures include command discovery\n");
}
// A spec-dialect sync message from research/sds-protocol.md §1.3.
const blobHex = "0a05616c696365120873796e632d6162631a0a6d792d6368616e6e656c5081d095ffbc315a0b0a026d311a05616c696365";

function wallMs(args: string[], input?: string): number {
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { input, stdio: ["pipe", "ignore", "ignore"] });
  if (result.status !== 0) throw new Error(`${args.join(" ")} exited ${result.status}`);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const samples = { node: [] as number[], version: [] as number[], decode: [] as number[] };
for (let i = 0; i < rounds; i++) {
  samples.node.push(wallMs(["-e", "0"]));
  samples.version.push(wallMs([bin, "--version"]));
  samples.decode.push(wallMs([bin, "decode", "--hex", blobHex, "--json"]));
}
const node = median(samples.node);
const version = median(samples.version);
const decode = median(samples.decode);
printTable(`start-up, median of ${rounds} alternating runs (ms)`, [
  { command: "node -e 0", ms: node, ratio: 1 },
  { command: "sds --version", ms: version, ratio: version / node },
  { command: "sds decode --hex <blob>", ms: decode, ratio: decode / node },
]);
emitFigures("startup", {
  nodeMs: node,
  versionMs: version,
  decodeMs: decode,
  versionVsNodeRatio: version / node,
  decodeVsNodeRatio: decode / node,
});
