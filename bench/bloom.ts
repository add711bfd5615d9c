/**
 * Micro-benchmark: our BloomFilter (spec and nim dialects) against @waku/sds's BloomFilter,
 * default parameters (capacity 10,000, error rate 0.001, k 10), 64-hex-character ids.
 * Prints operations per second side by side. Run: `node --import tsx bench/bloom.ts [ids]`.
 * Not part of the test suite: timings are noisy and machine-dependent.
 */
import { BloomFilter as WakuBloomFilter } from "@waku/sds";
import { hashN as wakuHashN } from "../node_modules/@waku/sds/dist/nim_hashn/nim_hashn.mjs";
import { BloomFilter } from "../src/core/protocol/bloom/index.js";
import { contentMessageId } from "../src/core/protocol/message-id.js";
import { emitFigures, printTable } from "./lib.js";

const idCount = Number(process.argv[2] ?? process.env.BENCH_BLOOM_IDS ?? 10_000);
const ids = Array.from({ length: idCount }, (_, index) => contentMessageId(new TextEncoder().encode(`message ${index}`)));
const probes = Array.from({ length: idCount }, (_, index) => contentMessageId(new TextEncoder().encode(`probe ${index}`)));

interface Subject {
  name: string;
  make: () => { add: (id: string) => void; has: (id: string) => boolean; bytes: () => Uint8Array };
}

const subjects: Subject[] = [
  {
    name: "@waku/sds BloomFilter",
    make: () => {
      const filter = new WakuBloomFilter({ capacity: 10_000, errorRate: 0.001 }, wakuHashN);
      return { add: (id) => filter.insert(id), has: (id) => filter.lookup(id), bytes: () => filter.toBytes() };
    },
  },
  ...(["spec", "nim"] as const).map((dialect) => ({
    name: `sds-toolkit BloomFilter (${dialect})`,
    make: () => {
      const filter = new BloomFilter({ dialect });
      return { add: (id: string) => filter.add(id), has: (id: string) => filter.has(id), bytes: () => filter.toBytes(dialect) };
    },
  })),
];

/** Runs `body` over `count` items repeatedly for at least `minimumMs`, returning ops/s. */
function measure(count: number, body: (index: number) => void, minimumMs = 400): number {
  let operations = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    for (let index = 0; index < count; index++) body(index);
    operations += count;
    elapsed = performance.now() - start;
  } while (elapsed < minimumMs);
  return (operations / elapsed) * 1000;
}

const rows: Array<Record<string, string | number>> = [];
const figures: Record<string, number> = {};
for (const subject of subjects) {
  const filter = subject.make();
  measure(Math.min(idCount, 1000), (index) => filter.add(ids[index]!), 50); // warm-up
  const addRate = measure(idCount, (index) => filter.add(ids[index]!));
  const hitRate = measure(idCount, (index) => void filter.has(ids[index]!));
  const missRate = measure(idCount, (index) => void filter.has(probes[index]!));
  const serializeRate = measure(10, () => void filter.bytes(), 200);
  rows.push({ filter: subject.name, "add/s": addRate, "has (hit)/s": hitRate, "has (miss)/s": missRate, "toBytes/s": serializeRate });
  const key = subject.name.startsWith("@waku") ? "waku" : subject.name.includes("(nim)") ? "oursNim" : "oursSpec";
  Object.assign(figures, { [`${key}.addPerSecond`]: addRate, [`${key}.hitPerSecond`]: hitRate, [`${key}.missPerSecond`]: missRate, [`${key}.toBytesPerSecond`]: serializeRate });
}
printTable(`${idCount} ids of 64 hex characters, capacity 10000, error rate 0.001 (k 10, 150000 bits)`, rows);
for (const operation of ["add", "hit", "miss", "toBytes"]) {
  figures[`oursSpecOverWaku.${operation}`] = figures[`oursSpec.${operation}PerSecond`]! / figures[`waku.${operation}PerSecond`]!;
}
emitFigures("bloom", figures);
