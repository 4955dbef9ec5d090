import { randomBytes } from "node:crypto";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { deliveries, endpointHealth } from "../../../db/schema/index.ts";
import { insertEvents } from "../../../src/services/events/insert.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { type Received, startReceiver } from "../../helpers/receiver.ts";
import { eventually, makeEndpoint, makeTenant } from "./fixtures.ts";

const publish = (t: TestApp, tenantId: string, n: number) =>
  t.deps.db.transaction((tx) =>
    insertEvents(
      t.deps,
      tx,
      Array.from({ length: n }, (_, i) => ({ type: "webhook.test", tenantId, data: { i } })),
    ),
  );

async function metric(t: TestApp, line: string): Promise<number> {
  const text = await t.deps.metrics.registry.metrics();
  const hit = text.split("\n").find((l) => l.startsWith(`${line} `));
  return hit ? Number(hit.slice(line.length + 1)) : 0;
}

describe("circuit breaker", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      env: {
        MAINTENANCE_CRON: "0 0 1 1 *",
        DELIVERY_RETRY_SCHEDULE: "50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms",
        CIRCUIT_FAILURE_THRESHOLD: "3",
        CIRCUIT_OPEN_DURATION: "1500ms",
      },
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  test("opens after N consecutive failures; deliveries wait; one probe closes it; the rest then flow", async () => {
    let failing = true;
    const rx = await startReceiver(() => ({ status: failing ? 500 : 200 }));
    try {
      const tenantId = await makeTenant(t.deps);
      const ep = await makeEndpoint(t.deps, tenantId, rx.url);
      await publish(t, tenantId, 1);
      const firstThree = await rx.waitFor(3);
      // The third failure, once recorded, opens the circuit.
      const health = await eventually(async () => {
        const [h] = await t.deps.db.select().from(endpointHealth).where(eq(endpointHealth.endpointId, ep.id));
        return h?.circuitState === "open" ? h : null;
      });
      expect(health.consecutiveFailures).toBe(3);
      // More deliveries arrive meanwhile; none may be attempted yet.
      await publish(t, tenantId, 4);
      await new Promise((r) => setTimeout(r, 400));
      expect(rx.requests).toHaveLength(3);
      failing = false;

      // 1 probe + the 4 waiting deliveries, all succeed; no other request. On a timeout, say where
      // every delivery and its job stood (a loaded CI run once got 7 of 8 in 15 s).
      await rx.waitFor(3 + 5, 30_000).catch(async (err: unknown) => {
        const state = await t.deps.sql`
          select d.id, d.status, d.generation, d.attempt_count, d.next_attempt_at,
                 (select json_agg(json_build_object('state', j.state, 'gen', j.data->'generation',
                   'startAfter', j.start_after, 'retry', j.retry_count))
                    from pgboss.job j where j.name = 'deliver' and j.data->>'deliveryId' = d.id) as jobs
          from deliveries d where d.endpoint_id = ${ep.id}`;
        const [h] = await t.deps.sql`select * from endpoint_health where endpoint_id = ${ep.id}`;
        throw new Error(
          `${(err as Error).message}; health ${JSON.stringify(h)}; deliveries ${JSON.stringify(state)}`,
        );
      });
      const third = firstThree[2] as Received;
      const probe = rx.requests[3] as Received;
      expect(probe.at - third.at).toBeGreaterThanOrEqual(1400);
      // The probe went alone: the others came after its answer.
      for (const r of rx.requests.slice(4)) expect(r.at).toBeGreaterThanOrEqual(probe.at);
      await eventually(async () => {
        const rows = await t.deps.db.select().from(deliveries).where(eq(deliveries.endpointId, ep.id));
        return rows.length === 5 && rows.every((d) => d.status === "succeeded");
      }, 10_000);
      await new Promise((r) => setTimeout(r, 200));
      expect(rx.requests).toHaveLength(8);
      const [closed] = await t.deps.db
        .select()
        .from(endpointHealth)
        .where(eq(endpointHealth.endpointId, ep.id));
      expect(closed).toMatchObject({ circuitState: "closed", consecutiveFailures: 0 });
      expect(await metric(t, 'signalpost_delivery_postponed_total{reason="circuit_open"}')).toBeGreaterThan(
        0,
      );
    } finally {
      await rx.close();
    }
  });

  test("a failed probe reopens the circuit for another open period", async () => {
    const rx = await startReceiver(() => ({ status: 503 }));
    try {
      const tenantId = await makeTenant(t.deps);
      const ep = await makeEndpoint(t.deps, tenantId, rx.url);
      await publish(t, tenantId, 1);
      const got = await rx.waitFor(5, 15_000);
      const gaps = got.slice(1, 5).map((r, i) => r.at - (got[i] as Received).at);
      // Requests 1-3 follow the 50 ms schedule; 4 is the first probe, 5 the probe after it failed.
      expect(gaps[2]).toBeGreaterThanOrEqual(1400);
      expect(gaps[3]).toBeGreaterThanOrEqual(1400);
      const [health] = await t.deps.db
        .select()
        .from(endpointHealth)
        .where(eq(endpointHealth.endpointId, ep.id));
      expect(health?.circuitState).not.toBe("closed");
      // Waiting does not use up the retry schedule: 5 attempts of 9 permitted, still pending.
      const d = await eventually(async () => {
        const [row] = await t.deps.db.select().from(deliveries).where(eq(deliveries.endpointId, ep.id));
        return row && row.attemptCount >= 5 ? row : null;
      });
      expect(d.status).toBe("pending");
      expect(d.attemptCount).toBe(5);
    } finally {
      await rx.close();
    }
  });
});

describe("endpoint rate limit", () => {
  let t: TestApp;
  let second: TestApp;
  beforeAll(async () => {
    // Same encryption key for both: they decrypt the same endpoint secrets.
    const env = { MAINTENANCE_CRON: "0 0 1 1 *", ENCRYPTION_KEY: randomBytes(32).toString("base64") };
    t = await startTestApp({ env });
    // A second, independent set of workers on the same database: the limit is shared state.
    second = await startTestApp({ database: t.db, env });
  });
  afterAll(async () => {
    await second?.close();
    await t?.close();
  });

  test("rateLimitPerSecond holds across workers; excess deliveries are postponed, never dropped", async () => {
    const rx = await startReceiver(() => ({ status: 200 }));
    try {
      const tenantId = await makeTenant(t.deps);
      const ep = await makeEndpoint(t.deps, tenantId, rx.url, { rateLimitPerSecond: 5 });
      await publish(t, tenantId, 20);
      const got = await rx.waitFor(20, 20_000);
      const span = (got.at(-1) as Received).at - (got[0] as Received).at;
      const perSecond = new Map<number, number>();
      for (const r of got)
        perSecond.set(Math.floor(r.at / 1000), (perSecond.get(Math.floor(r.at / 1000)) ?? 0) + 1);
      // 20 at 5/s fill at least 4 of the database's one-second windows (unlimited, they would all
      // arrive within ~100 ms). Windows are fixed, so the first may come late in its window and the
      // last early in its own: the span is over 2 s, not necessarily 3 (2,710 ms was seen).
      expect(perSecond.size).toBeGreaterThanOrEqual(4);
      expect(span).toBeGreaterThanOrEqual(2_000);
      // Admission uses the database's one-second windows; arrival here can straddle a boundary by ms.
      expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(7);
      const rows = await eventually(async () => {
        const r = await t.deps.db.select().from(deliveries).where(eq(deliveries.endpointId, ep.id));
        return r.every((d) => d.status === "succeeded") ? r : null;
      });
      expect(rows).toHaveLength(20);
      // Postponing is not an attempt.
      expect(rows.every((d) => d.attemptCount === 1)).toBe(true);
      const postponed =
        (await metric(t, 'signalpost_delivery_postponed_total{reason="rate_limited"}')) +
        (await metric(second, 'signalpost_delivery_postponed_total{reason="rate_limited"}'));
      expect(postponed).toBeGreaterThan(0);
    } finally {
      await rx.close();
    }
  });

  test("an endpoint without a limit is not slowed", async () => {
    const rx = await startReceiver(() => ({ status: 200 }));
    try {
      const tenantId = await makeTenant(t.deps);
      const ep = await makeEndpoint(t.deps, tenantId, `${rx.url}?unlimited`);
      await publish(t, tenantId, 30);
      const rows = await eventually(async () => {
        const r = await t.deps.db.select().from(deliveries).where(eq(deliveries.endpointId, ep.id));
        return r.length === 30 && r.every((d) => d.status === "succeeded") ? r : null;
      }, 20_000);
      // Never postponed: a postponement would have bumped the generation.
      expect(rows.every((d) => d.generation === 0 && d.attemptCount === 1)).toBe(true);
    } finally {
      await rx.close();
    }
  });
});
