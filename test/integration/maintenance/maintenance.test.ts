import { and, eq, sql } from "drizzle-orm";
import { monotonicFactory } from "ulid";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  attempts,
  auditLog,
  deliveries,
  endpoints,
  events,
  idempotencyKeys,
} from "../../../db/schema/index.ts";
import { QUEUES } from "../../../src/jobs/queues.ts";
import { newId } from "../../../src/lib/ids.ts";
import { disableLongFailingEndpoints } from "../../../src/maintenance/auto-disable.ts";
import { pruneOldRows } from "../../../src/maintenance/retention.ts";
import { sweepOverdueDeliveries } from "../../../src/maintenance/sweeper.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { startReceiver } from "../../helpers/receiver.ts";
import { deliveryRow, eventually, makeDelivery, makeEndpoint, makeTenant } from "./fixtures.ts";

let t: TestApp;
let rx: Awaited<ReturnType<typeof startReceiver>>;
/** Receiver answers: URLs with `?fail` get a 500, others 200. */
beforeAll(async () => {
  rx = await startReceiver((req) => (req.url.includes("fail") ? { status: 500 } : { status: 200 }));
  t = await startTestApp({
    env: {
      // No background tick during the tests: each test runs the pass it is about.
      MAINTENANCE_CRON: "0 0 1 1 *",
      SWEEPER_MARGIN: "1s",
      ENDPOINT_DISABLE_AFTER: "2s",
    },
  });
});
afterAll(async () => {
  await t?.close();
  await rx?.close();
});

const ago = (ms: number) => new Date(Date.now() - ms);

describe("sweeper", () => {
  test("re-enqueues an overdue delivery that has no job, with a bumped generation, and it is delivered", async () => {
    const tenantId = await makeTenant(t.deps);
    const ep = await makeEndpoint(t.deps, tenantId, `${rx.url}?sweep1`);
    const { deliveryId, eventId } = await makeDelivery(t.deps, ep.id, tenantId, {
      nextAttemptAt: ago(60_000),
      generation: 3,
      job: "none",
    });
    const result = await sweepOverdueDeliveries(t.deps, { marginMs: 1000 });
    expect(result.requeued).toContain(deliveryId);
    await eventually(async () => (await deliveryRow(t.deps, deliveryId)).status === "succeeded");
    const row = await deliveryRow(t.deps, deliveryId);
    expect(row.generation).toBe(4);
    expect(rx.requests.filter((r) => r.headers["webhook-id"] === eventId)).toHaveLength(1);
  });

  test("leaves alone deliveries that are not overdue by the margin, or that have a live job", async () => {
    const tenantId = await makeTenant(t.deps);
    const ep = await makeEndpoint(t.deps, tenantId, `${rx.url}?sweep2`);
    const recent = await makeDelivery(t.deps, ep.id, tenantId, { nextAttemptAt: ago(200), job: "none" });
    // Overdue, but its job is queued (deferred far ahead, so no worker takes it during the test).
    const queued = await makeDelivery(t.deps, ep.id, tenantId, {
      nextAttemptAt: ago(60_000),
      job: "current",
      jobStartAfter: new Date(Date.now() + 3_600_000),
    });
    const result = await sweepOverdueDeliveries(t.deps, { marginMs: 5000 });
    expect(result.requeued).not.toContain(recent.deliveryId);
    expect(result.requeued).not.toContain(queued.deliveryId);
    expect((await deliveryRow(t.deps, queued.deliveryId)).generation).toBe(0);
  });

  test("a live job for an older generation does not count: the delivery is re-enqueued", async () => {
    const tenantId = await makeTenant(t.deps);
    const ep = await makeEndpoint(t.deps, tenantId, `${rx.url}?sweep3`);
    const stale = await makeDelivery(t.deps, ep.id, tenantId, {
      nextAttemptAt: ago(60_000),
      generation: 2,
      job: "stale",
      jobStartAfter: new Date(Date.now() + 3_600_000),
    });
    const result = await sweepOverdueDeliveries(t.deps, { marginMs: 1000 });
    expect(result.requeued).toContain(stale.deliveryId);
    await eventually(async () => (await deliveryRow(t.deps, stale.deliveryId)).status === "succeeded");
  });

  test("a delivery whose last permitted attempt was lost ends dead-lettered, not stuck", async () => {
    const tenantId = await makeTenant(t.deps);
    const ep = await makeEndpoint(t.deps, tenantId, `${rx.url}?fail-last`);
    // Schedule "50ms,100ms" permits 3 attempts; 2 were made, the third's job vanished with its worker.
    const lost = await makeDelivery(t.deps, ep.id, tenantId, {
      nextAttemptAt: ago(60_000),
      attemptCount: 2,
      generation: 2,
      job: "none",
    });
    await sweepOverdueDeliveries(t.deps, { marginMs: 1000 });
    const row = await eventually(async () => {
      const r = await deliveryRow(t.deps, lost.deliveryId);
      return r.status === "dead" ? r : null;
    });
    expect(row.attemptCount).toBe(3);
    expect(row.lastStatusCode).toBe(500);
  });

  test("pages through a backlog larger than one page", async () => {
    const tenantId = await makeTenant(t.deps);
    const ep = await makeEndpoint(t.deps, tenantId, `${rx.url}?sweep-pages`);
    const ids: string[] = [];
    for (let i = 0; i < 7; i++)
      ids.push(
        (await makeDelivery(t.deps, ep.id, tenantId, { nextAttemptAt: ago(30_000 + i), job: "none" }))
          .deliveryId,
      );
    const result = await sweepOverdueDeliveries(t.deps, { marginMs: 1000, pageSize: 3 });
    expect(result.requeued).toEqual(expect.arrayContaining(ids));
  });

  test("the maintenance worker runs a pass when a job lands on its queue", async () => {
    const tenantId = await makeTenant(t.deps);
    const ep = await makeEndpoint(t.deps, tenantId, `${rx.url}?via-queue`);
    const { deliveryId } = await makeDelivery(t.deps, ep.id, tenantId, { nextAttemptAt: ago(60_000) });
    await t.deps.boss.send(QUEUES.maintenance, { kind: "manual" });
    await eventually(async () => (await deliveryRow(t.deps, deliveryId)).status === "succeeded", 15_000);
  });

  test("the pass is scheduled once, on MAINTENANCE_CRON", async () => {
    const schedules = await t.deps.boss.getSchedules(QUEUES.maintenance);
    expect(schedules).toHaveLength(1);
    expect(schedules[0]?.cron).toBe("0 0 1 1 *");
  });
});

describe("auto-disable", () => {
  test("disables an endpoint failing longer than the limit, cancels its deliveries, and tells the tenant", async () => {
    const tenantId = await makeTenant(t.deps);
    const otherTenant = await makeTenant(t.deps);
    const failing = await makeEndpoint(t.deps, tenantId, `${rx.url}?fail-always`, {
      failingSince: ago(5_000),
    });
    const young = await makeEndpoint(t.deps, tenantId, `${rx.url}?young`, { failingSince: ago(100) });
    await makeEndpoint(t.deps, tenantId, `${rx.url}?ops`, { eventTypes: ["endpoint.disabled"] });
    const unrelated = await makeEndpoint(t.deps, tenantId, `${rx.url}?signals`, {
      eventTypes: ["signal.changed"],
    });
    const foreign = await makeEndpoint(t.deps, otherTenant, `${rx.url}?foreign`);
    const pending = await makeDelivery(t.deps, failing.id, tenantId, {
      nextAttemptAt: new Date(Date.now() + 3_600_000),
      job: "current",
      jobStartAfter: new Date(Date.now() + 3_600_000),
    });

    const { disabled } = await disableLongFailingEndpoints(t.deps, { afterMs: 2000 });
    // Endpoints of earlier tests in this file may have been failing long enough too (seen under a
    // loaded CI run): only this test's own are judged.
    expect(disabled).toContain(failing.id);
    for (const id of [young.id, unrelated.id, foreign.id]) expect(disabled).not.toContain(id);

    const [ep] = await t.deps.db.select().from(endpoints).where(eq(endpoints.id, failing.id));
    expect(ep?.disabled).toBe(true);
    expect(ep?.disabledReason).toMatch(/^failing continuously since /);
    expect((await deliveryRow(t.deps, pending.deliveryId)).status).toBe("cancelled");
    const [youngRow] = await t.deps.db.select().from(endpoints).where(eq(endpoints.id, young.id));
    expect(youngRow?.disabled).toBe(false);

    const [req] = await eventually(async () => {
      const got = rx.requests.filter((r) => r.url.includes("?ops"));
      return got.length ? got : null;
    });
    const body = JSON.parse(req?.body.toString("utf8") ?? "{}");
    expect(body).toMatchObject({
      type: "endpoint.disabled",
      data: { endpointId: failing.id, reason: ep?.disabledReason, failingSince: expect.any(String) },
    });
    // Give the fan-out time to reach anyone it (wrongly) would, then check nobody else got it.
    await new Promise((r) => setTimeout(r, 500));
    const eventId = req?.headers["webhook-id"];
    const recipients = rx.requests.filter((r) => r.headers["webhook-id"] === eventId).map((r) => r.url);
    // The tenant's endpoints subscribed to it (by type, or to every type): not the other tenant's,
    // not the one filtering on another type, not the disabled one.
    expect(recipients.sort()).toEqual(["/hook?ops", "/hook?young"]);
    void unrelated;
    void foreign;

    const audit = await t.deps.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.targetId, failing.id), eq(auditLog.action, "endpoint.disabled")));
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actorId: "system:maintenance", tenantId });

    // A second pass finds nothing more to do.
    expect((await disableLongFailingEndpoints(t.deps, { afterMs: 2000 })).disabled).not.toContain(failing.id);
  });
});

describe("retention", () => {
  test("deletes old attempts, old events with their deliveries, and old idempotency keys, in batches", async () => {
    const tenantId = await makeTenant(t.deps);
    const ep = await makeEndpoint(t.deps, tenantId, `${rx.url}?retention`);
    const day = 86_400_000;
    const old = new Date(Date.now() - 100 * day);
    const oldUlid = monotonicFactory();
    const oldId = (prefix: string) => `${prefix}_${oldUlid(old.getTime())}`;

    // Two old events, both finished; one old event with a pending delivery; one recent event.
    const makeFinished = async (createdAt: Date, attemptsN: number, status: "succeeded" | "pending") => {
      const eventId = createdAt === old ? oldId("evt") : newId("evt");
      const deliveryId = createdAt === old ? oldId("dlv") : newId("dlv");
      await t.deps.db.insert(events).values({
        id: eventId,
        type: "webhook.test",
        tenantId,
        body: "{}",
        occurredAt: createdAt,
        createdAt,
      });
      await t.deps.db.insert(deliveries).values({
        id: deliveryId,
        eventId,
        endpointId: ep.id,
        tenantId,
        eventType: "webhook.test",
        status,
        attemptCount: attemptsN,
        createdAt,
      });
      for (let i = 1; i <= attemptsN; i++)
        await t.deps.db.insert(attempts).values({
          id: createdAt === old ? oldId("att") : newId("att"),
          deliveryId,
          tenantId,
          endpointId: ep.id,
          number: i,
          trigger: "scheduled",
          outcome: "failed",
          url: "http://x",
          startedAt: createdAt,
          durationMs: 1,
          requestHeaders: {},
        });
      return { eventId, deliveryId };
    };
    const gone1 = await makeFinished(old, 4, "succeeded");
    const gone2 = await makeFinished(old, 3, "succeeded");
    const keptPending = await makeFinished(old, 2, "pending");
    const recent = await makeFinished(new Date(), 2, "succeeded");

    await t.deps.db.insert(idempotencyKeys).values([
      {
        scope: "key_x",
        key: "old",
        requestHash: "h",
        responseStatus: 201,
        responseBody: {},
        createdAt: ago(2 * day),
      },
      {
        scope: "key_x",
        key: "new",
        requestHash: "h",
        responseStatus: 201,
        responseBody: {},
        createdAt: new Date(),
      },
    ]);

    const result = await pruneOldRows(t.deps, {
      attemptsMaxAgeMs: 30 * day,
      eventsMaxAgeMs: 90 * day,
      idempotencyMaxAgeMs: day,
      batchSize: 2,
    });
    // 4 + 3 + 2 old attempts (the pending delivery's old attempts are past the attempt age too).
    expect(result.attempts).toBeGreaterThanOrEqual(9);
    expect(result.deliveries).toBeGreaterThanOrEqual(2);
    expect(result.events).toBeGreaterThanOrEqual(2);
    expect(result.idempotencyKeys).toBeGreaterThanOrEqual(1);

    const eventIds = (await t.deps.db.select({ id: events.id }).from(events)).map((e) => e.id);
    expect(eventIds).not.toContain(gone1.eventId);
    expect(eventIds).not.toContain(gone2.eventId);
    expect(eventIds).toContain(keptPending.eventId);
    expect(eventIds).toContain(recent.eventId);
    const recentAttempts = await t.deps.db
      .select()
      .from(attempts)
      .where(eq(attempts.deliveryId, recent.deliveryId));
    expect(recentAttempts).toHaveLength(2);
    const keys = await t.deps.db.select().from(idempotencyKeys).where(eq(idempotencyKeys.scope, "key_x"));
    expect(keys.map((k) => k.key)).toEqual(["new"]);
    const [{ n } = { n: -1 }] = await t.deps.db
      .select({ n: sql<number>`count(*)::int` })
      .from(deliveries)
      .where(eq(deliveries.id, keptPending.deliveryId));
    expect(n).toBe(1);
  });
});
