// Child of crash.test.ts: runs an endless workload of durable commits on one database and
// prints each operation's number on stdout right after its commit returned (so the parent
// knows what was confirmed). Plain JS so it starts fast; argv: <store module> <db path> <synchronous>.
import { writeSync } from "node:fs";

const [modulePath, dbPath, synchronous] = process.argv.slice(2);
const { SqlitePersistence } = await import(modulePath);
const opened = SqlitePersistence.open(dbPath, { synchronous });
if (!opened.ok) {
  writeSync(2, `open failed: ${opened.error.code} ${opened.error.message}\n`);
  process.exit(2);
}
const store = opened.value;
const loaded = store.loadChannelSync("crash");
if (!loaded.ok) {
  writeSync(2, `load failed: ${loaded.error.code} ${loaded.error.message}\n`);
  process.exit(3);
}
let op = Number(loaded.value?.meta.lamportTimestamp ?? 0n);
const bloom = new Uint8Array(1024);
const msg = (id, lamport) => ({
  senderId: "crasher",
  messageId: id,
  channelId: "crash",
  lamportTimestamp: BigInt(lamport),
  causalHistory: [{ messageId: `m${lamport - 1}` }],
  bloomFilter: bloom,
  content: new TextEncoder().encode(`payload of ${id}`),
  repairRequest: [],
});
writeSync(1, `ready ${op}\n`);
for (;;) {
  op += 1;
  bloom[op % bloom.length] ^= 0xff;
  const m = msg(`m${op}`, op);
  const delta = {
    channelId: "crash",
    lamportTimestamp: BigInt(op),
    outgoing: { upsert: [{ message: m, sendTimeMs: op, resendAttempts: 0 }, ...(op > 1 ? [{ message: msg(`m${op - 1}`, op - 1), sendTimeMs: op, resendAttempts: 1 }] : [])], remove: [`m${op - 5}`] },
    incoming: { upsert: [{ message: msg(`w${op}`, op), missingDeps: [`d${op}`] }], remove: [`w${op - 3}`] },
    outgoingRepair: { upsert: [{ entry: { messageId: `r${op}` }, minTimeRepairReqMs: op }], remove: [`r${op - 2}`] },
    incomingRepair: { upsert: [{ entry: { messageId: `q${op}` }, cachedMessage: Uint8Array.of(op & 0xff), minTimeRepairRespMs: op }], remove: [`q${op - 2}`] },
    history: { append: [m], evict: [`m${op - 20}`] },
    retrievalHints: [{ messageId: `m${op}`, hint: Uint8Array.of(op & 0xff) }],
  };
  const result = store.commitSync([delta]);
  if (!result.ok) {
    writeSync(2, `commit failed: ${result.error.code} ${result.error.message}\n`);
    process.exit(4);
  }
  writeSync(1, `${op}\n`);
}
