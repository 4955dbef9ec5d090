import { sql } from "drizzle-orm";
import { afterAll, beforeAll, expect, test } from "vitest";
import { BOSS_SCHEMA } from "../../db/migrate.ts";
import type { TestApp } from "../helpers/app.ts";
import type { TestDatabase } from "../helpers/db.ts";
import { startReceiver } from "../helpers/receiver.ts";
import { makeEndpoint, makeTenant } from "../integration/maintenance/fixtures.ts";
import { chaosDatabase, chaosEnv, type Proc, spawnSignalpost } from "./harness.ts";

let db: TestDatabase;
let key: string;
let t: TestApp;
const procs: Proc[] = [];
beforeAll(async () => {
  ({ db, key, t } = await chaosDatabase());
});
afterAll(async () => {
  for (const p of procs) {
    p.kill("SIGKILL");
    await p.exited;
  }
  await t?.close();
  await db?.drop();
});

const ENDPOINTS = 20;
const EVENTS = 500;

test("1 API + 3 workers: 10,000 deliveries to 20 endpoints, none lost, duplicates counted, one attempt row each", async () => {
  const received = new Map<string, number>();
  const rx = await startReceiver((r) => {
    const k = `${r.url} ${r.headers["webhook-id"]}`;
    received.set(k, (received.get(k) ?? 0) + 1);
    return { status: 204 };
  });
  try {
    const env = chaosEnv(db, key, { MAINTENANCE_CRON: "* * * * *", LOG_LEVEL: "warn" });
    const api = await spawnSignalpost("api", env);
    const workers = await Promise.all([1, 2, 3].map(() => spawnSignalpost("worker", env)));
    procs.push(api, ...workers);
    await Promise.all([api, ...workers].map((p) => p.waitReady(60_000)));

    const tenantId = await makeTenant(t.deps);
    for (let i = 0; i < ENDPOINTS; i++) await makeEndpoint(t.deps, tenantId, `${rx.url}?ep=${i}`);

    const started = Date.now();
    for (let b = 0; b < EVENTS / 100; b++) {
      const res = await fetch(`http://127.0.0.1:${api.port}/v1/events/batch`, {
        method: "POST",
        headers: { authorization: `Bearer ${t.operatorToken}`, "content-type": "application/json" },
        body: JSON.stringify({
          events: Array.from({ length: 100 }, (_, i) => ({
            type: "webhook.test",
            tenantId,
            data: { endpointId: "ep_scale", message: "scale-out", batch: b, i },
          })),
        }),
      });
      expect(res.status).toBe(202);
    }
    const total = ENDPOINTS * EVENTS;
    await rx.waitFor(total, 180_000);
    const seconds = (Date.now() - started) / 1000;

    const duplicates = rx.requests.length - received.size;
    // Late duplicates would show up after the count is reached: give them a moment.
    await new Promise((r) => setTimeout(r, 2_000));
    const [stats] = await t.deps.db.execute<{
      deliveries: number;
      succeeded: number;
      attempts: number;
      multi: number;
    }>(sql`
      select
        (select count(*)::int from deliveries) as deliveries,
        (select count(*)::int from deliveries where status = 'succeeded') as succeeded,
        (select count(*)::int from attempts) as attempts,
        (select count(*)::int from (select delivery_id from attempts group by 1 having count(*) > 1) x) as multi`);
    const ticks = await t.deps.sql<{ slot: string; n: number }[]>`
      select date_trunc('minute', created_on)::text as slot, count(*)::int as n
      from ${t.deps.sql(BOSS_SCHEMA)}.job where name = 'maintenance' group by 1 order by 1`;
    console.log(
      `scale-out: ${total} deliveries in ${seconds.toFixed(1)} s (${Math.round(total / seconds)}/s), ` +
        `requests ${rx.requests.length}, duplicates ${duplicates + (rx.requests.length - total)}, ` +
        `maintenance jobs per minute ${JSON.stringify(ticks)}`,
    );
    expect(stats).toEqual({ deliveries: total, succeeded: total, attempts: total, multi: 0 });
    expect(received.size).toBe(total);
    expect(rx.requests.length - received.size).toBe(0);
    // Three worker processes registered the schedule: one shared row, at most one job per tick.
    const [schedules] = await t.deps.sql<{ n: number }[]>`
      select count(*)::int as n from ${t.deps.sql(BOSS_SCHEMA)}.schedule where name = 'maintenance'`;
    expect(schedules?.n).toBe(1);
    for (const tick of ticks) expect(tick.n).toBeLessThanOrEqual(1);
  } finally {
    await rx.close();
  }
});
