import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, expect, test } from "vitest";
import { list, perRowCount, run, values } from "../../../db/raw.ts";
import { tenants } from "../../../db/schema/index.ts";
import { concurrencyTiers } from "../../../src/jobs/enqueue.ts";
import { QUEUES } from "../../../src/jobs/queues.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";

let prepared: TestApp;
let plain: TestApp;
beforeAll(async () => {
  // One pg-boss connection each, so the statement cache read below is the one fetch used.
  prepared = await startTestApp({ workers: false, build: { bossMax: 1 } });
  plain = await startTestApp({
    workers: false,
    database: prepared.db,
    build: { bossMax: 1 },
    env: { DATABASE_PREPARED_STATEMENTS: "false" },
  });
});
afterAll(async () => {
  await plain?.close();
  await prepared?.close();
});

test("pg-boss's delivery fetch runs as a named statement on its pool; not with DATABASE_PREPARED_STATEMENTS=false", async () => {
  const fetchStatements = async (app: TestApp) => {
    for (let i = 0; i < 2; i++) {
      await app.deps.boss.send(QUEUES.deliver, { deliveryId: `dlv_prepared_${i}`, generation: 0 });
      // The dispatcher's fetch: parameterized (the per-endpoint limits).
      const [job] = await app.deps.boss.fetch(QUEUES.deliver, {
        batchSize: 1,
        groupConcurrency: { default: 8, tiers: concurrencyTiers() },
      });
      expect(job).toBeDefined();
    }
    const { rows } = await app.deps.boss
      .getDb()
      .executeSql("select statement from pg_prepared_statements where name like 'pgboss_%'");
    return (rows as { statement: string }[])
      .map((r) => r.statement)
      .filter((s) => s.includes("active_group_count_map"));
  };
  const prepared1 = await fetchStatements(prepared);
  expect(prepared1.length).toBeGreaterThanOrEqual(1);
  // pg-boss's text still has the per-row tiers parse the rewrite moves into an InitPlan: if an
  // upgrade changes it, this fails rather than letting a cached plan parse JSON on every row.
  for (const text of prepared1) {
    expect(text).toContain("((SELECT $2::text::jsonb) ->> group_tier)");
    expect(text).not.toMatch(/\(\$\d+::text::jsonb ->>/);
  }
  expect(await fetchStatements(plain)).toEqual([]);
});

test("a cached generic plan of the rewritten fetch keeps the per-endpoint limits", async () => {
  const db = prepared.deps.boss.getDb();
  await db.executeSql("set plan_cache_mode = force_generic_plan");
  try {
    const groups = ["ep_generic_a", "ep_generic_b"];
    for (const id of groups)
      await prepared.deps.boss.insert(
        QUEUES.deliver,
        Array.from({ length: 5 }, (_, i) => ({
          data: { deliveryId: `dlv_${id}_${i}`, generation: 0 },
          group: { id, ...(id.endsWith("b") ? { tier: "c3" } : {}) },
        })),
      );
    const jobs = await prepared.deps.boss.fetch(QUEUES.deliver, {
      batchSize: 100,
      groupConcurrency: { default: 2, tiers: concurrencyTiers() },
    });
    const per = (id: string) => jobs.filter((j) => j.groupId === id).length;
    expect(per("ep_generic_a")).toBe(2);
    expect(per("ep_generic_b")).toBe(3);
  } finally {
    await db.executeSql("reset plan_cache_mode");
  }
});

test("drizzle's and postgres.js's statements follow DATABASE_PREPARED_STATEMENTS too (PgBouncer-safe when false)", async () => {
  const named = async (app: TestApp) =>
    app.deps.db.transaction(async (tx) => {
      // A parameterized statement on this connection, then the connection's prepared statements.
      await tx.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, "ten_none"));
      const [row] = await tx.execute<{ n: number }>(
        sql`select count(*)::int as n from pg_prepared_statements`,
      );
      return row?.n ?? 0;
    });
  expect(await named(prepared)).toBeGreaterThan(0);
  expect(await named(plain)).toBe(0);
  const viaSql = async (app: TestApp) => {
    const reserved = await app.deps.sql.reserve();
    try {
      await reserved`select ${"x"}::text as v`;
      const [row] = await reserved`select count(*)::int as n from pg_prepared_statements`;
      return (row as { n: number }).n;
    } finally {
      reserved.release();
    }
  };
  expect(await viaSql(plain)).toBe(0);
});

test("db/raw.ts: one prepared text per row count, numbered row by row; above 100 rows unprepared; none with DATABASE_PREPARED_STATEMENTS=false", async () => {
  expect(values(2, ["text", "int"], 3)).toBe("($3::text, $4::int), ($5::text, $6::int)");
  expect(list(3, 2)).toBe("$2, $3, $4");
  const echo = perRowCount(
    (n) =>
      `select v.s, v.n from (values ${values(n, ["text", "int"], 2)}) as v(s, n) where v.n > $1::int order by v.n`,
  );
  expect(echo(3, []).text).toBe(echo(3, []).text);
  expect(echo(3, []).prepare).toBeUndefined();
  expect(echo(101, []).prepare).toBe(false);

  const rowsOf = (n: number) => Array.from({ length: n }, (_, i) => [`s${i}`, i]);
  const statements = (app: TestApp) =>
    app.deps.db.transaction(async (tx) => {
      const small = await run<{ s: string; n: number }>(tx, echo(3, [0, ...rowsOf(3).flat()]));
      const big = await run<{ s: string; n: number }>(tx, echo(150, [140, ...rowsOf(150).flat()]));
      const texts = await run<{ statement: string }>(tx, "select statement from pg_prepared_statements");
      return { small, big, texts: texts.map((r) => r.statement) };
    });
  const on = await statements(prepared);
  expect(on.small.map((r) => [r.s, r.n])).toEqual([
    ["s1", 1],
    ["s2", 2],
  ]);
  expect(on.big.map((r) => r.n)).toEqual([141, 142, 143, 144, 145, 146, 147, 148, 149]);
  expect(on.texts.filter((t) => t.includes("as v(s, n)"))).toEqual([echo(3, []).text]);
  const off = await statements(plain);
  expect(off.small).toHaveLength(2);
  expect(off.texts).toEqual([]);
});
