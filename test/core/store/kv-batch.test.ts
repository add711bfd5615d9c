/**
 * The batched writes of a group commit (puts and deletes gathered across each other into
 * multi-row statements) leave exactly the rows that running each write at once leaves,
 * whatever the interleaving of puts and deletes of the same and other rows.
 */
import Database from "better-sqlite3";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KV_SCHEMA_SQL, Kv } from "../../../src/core/store/sqlite-db.js";

const seed = Number(process.env.SDS_SEED ?? Date.now() % 1_000_000);
console.log(`kv batch seed=${seed} (set SDS_SEED to replay)`);

type Write = { put: true; category: string; key: number; body: number } | { put: false; category: string; key: number };

const write: fc.Arbitrary<Write> = fc.oneof(
  fc.record({ put: fc.constant(true as const), category: fc.constantFrom("a", "b"), key: fc.nat(6), body: fc.nat(255) }),
  fc.record({ put: fc.constant(false as const), category: fc.constantFrom("a", "b"), key: fc.nat(6) }),
);

function rows(db: Database.Database): string[] {
  return (db.prepare("SELECT category, key, payload FROM kv ORDER BY category, key").all() as Array<{ category: Uint8Array; key: Uint8Array; payload: Uint8Array }>).map(
    (row) => `${Buffer.from(row.category).toString("hex")}/${Buffer.from(row.key).toString("hex")}=${Buffer.from(row.payload).toString("hex")}`,
  );
}

function apply(kv: Kv, writes: readonly Write[], readAt: number): void {
  writes.forEach((item, index) => {
    if (index === readAt) kv.get("a", Uint8Array.of(0)); // a read in the middle runs what is deferred so far
    if (item.put) kv.put(item.category, Uint8Array.of(item.key), Uint8Array.of(item.body, index & 0xff));
    else kv.delete(item.category, Uint8Array.of(item.key));
  });
}

describe("batched key-value writes", () => {
  it("leave the same rows as one statement per write (property)", () => {
    fc.assert(
      fc.property(fc.array(write, { maxLength: 300 }), fc.array(write, { maxLength: 20 }), fc.nat(320), (writes, before, readAt) => {
        const direct = new Database(":memory:");
        const batched = new Database(":memory:");
        for (const db of [direct, batched]) db.exec(KV_SCHEMA_SQL);
        const directKv = new Kv(direct);
        const batchedKv = new Kv(batched);
        apply(directKv, before, -1);
        apply(batchedKv, before, -1);
        apply(directKv, writes, -1);
        batched.transaction(() => {
          batchedKv.beginBatch();
          apply(batchedKv, writes, readAt);
          batchedKv.endBatch(true);
        })();
        expect(rows(batched)).toEqual(rows(direct));
        direct.close();
        batched.close();
      }),
      { seed, numRuns: 300 },
    );
  });
});
