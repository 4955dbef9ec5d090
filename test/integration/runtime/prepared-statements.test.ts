import { afterAll, beforeAll, expect, test } from "vitest";
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
  const count = async (app: TestApp) => {
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
    return (rows as { statement: string }[]).filter((r) => r.statement.includes("active_group_count_map"))
      .length;
  };
  expect(await count(prepared)).toBeGreaterThanOrEqual(1);
  expect(await count(plain)).toBe(0);
  // Prepared, but planned for each call's values (a generic fetch plan was slower on a deep queue).
  const mode = async (app: TestApp) =>
    ((await app.deps.boss.getDb().executeSql("show plan_cache_mode")).rows[0] as { plan_cache_mode: string })
      .plan_cache_mode;
  expect(await mode(prepared)).toBe("force_custom_plan");
  expect(await mode(plain)).toBe("auto");
});
