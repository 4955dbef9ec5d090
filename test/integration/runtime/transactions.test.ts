import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, expect, test } from "vitest";
import { tenants } from "../../../db/schema/index.ts";
import { newId } from "../../../src/lib/ids.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";

/** drizzle's transactions run on db/client.ts's pipelinedTransaction: the postgres.js contract. */
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ workers: false });
});
afterAll(async () => {
  await t?.close();
});

const exists = async (id: string) =>
  (await t.deps.db.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, id))).length === 1;

test("statements run inside one transaction, BEGIN included in the first round trip; commit on success", async () => {
  const id = newId("ten");
  const [first, second] = await t.deps.db.transaction(async (tx) => {
    const a = await tx.execute<{ xid: string; now: string }>(
      sql`select txid_current()::text as xid, now()::text as now`,
    );
    await tx.insert(tenants).values({ id, name: "tx" });
    await new Promise((r) => setTimeout(r, 20));
    const b = await tx.execute<{ xid: string; now: string }>(
      sql`select txid_current()::text as xid, now()::text as now`,
    );
    return [a[0], b[0]];
  });
  expect(first?.xid).toBe(second?.xid);
  expect(first?.now).toBe(second?.now);
  expect(await exists(id)).toBe(true);
});

test("a thrown error rolls back and is rethrown as it was", async () => {
  const id = newId("ten");
  const boom = new Error("boom");
  await expect(
    t.deps.db.transaction(async (tx) => {
      await tx.insert(tenants).values({ id, name: "tx" });
      throw boom;
    }),
  ).rejects.toBe(boom);
  expect(await exists(id)).toBe(false);
});

test("a failed statement among pipelined ones: its own error (not 25P02), and nothing commits", async () => {
  const id = newId("ten");
  const err = await t.deps.db
    .transaction(async (tx) => {
      await Promise.all([
        tx.insert(tenants).values({ id, name: "first" }),
        tx.insert(tenants).values({ id, name: "duplicate" }),
        tx.execute(sql`select 1`),
      ]);
    })
    .catch((e: unknown) => e as { code?: string; cause?: { code?: string } });
  expect(err?.cause?.code ?? err?.code).toBe("23505");
  expect(await exists(id)).toBe(false);
});

test("a failure the callback swallowed still fails the transaction (Postgres answers COMMIT with ROLLBACK)", async () => {
  const id = newId("ten");
  const err = await t.deps.db
    .transaction(async (tx) => {
      await tx.insert(tenants).values({ id, name: "kept?" });
      await tx.execute(sql`select 1/0`).catch(() => {});
    })
    .catch((e: unknown) => e as { code?: string; cause?: { code?: string } });
  expect(err?.cause?.code ?? err?.code).toBe("22012");
  expect(await exists(id)).toBe(false);
});

test("nested transactions are savepoints: the inner one rolls back alone", async () => {
  const outer = newId("ten");
  const inner = newId("ten");
  await t.deps.db.transaction(async (tx) => {
    await tx.insert(tenants).values({ id: outer, name: "outer" });
    await tx
      .transaction(async (sp) => {
        await sp.insert(tenants).values({ id: inner, name: "inner" });
        await sp.execute(sql`select 1/0`);
      })
      .catch(() => {});
  });
  expect([await exists(outer), await exists(inner)]).toEqual([true, false]);
});

test("an isolation level set through drizzle applies to the transaction", async () => {
  const level = await t.deps.db.transaction(
    async (tx) =>
      (await tx.execute<{ l: string }>(sql`select current_setting('transaction_isolation') as l`))[0]?.l,
    { isolationLevel: "serializable" },
  );
  expect(level).toBe("serializable");
});

test("a statement awaited after a failed one reports the first failure, not 25P02", async () => {
  const id = newId("ten");
  const err = await t.deps.db
    .transaction(async (tx) => {
      const failing = tx.execute(sql`select 1/0`);
      const after = tx.insert(tenants).values({ id, name: "after" });
      await failing.catch(() => {});
      await after; // answers 25P02: the transaction is already aborted
    })
    .catch((e: unknown) => e as { code?: string; cause?: { code?: string } });
  expect(err?.cause?.code ?? err?.code).toBe("22012");
  expect(await exists(id)).toBe(false);
});
