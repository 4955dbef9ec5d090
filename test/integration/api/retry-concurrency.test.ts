import { and, asc, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type Attempt, auditLog, deliveries } from "../../../db/schema/index.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { attemptsOf, publish, settledDelivery, waitUntil } from "../../helpers/fixtures.ts";
import { startReceiver } from "../../helpers/receiver.ts";
import { createTenantWithKey, type TestKey } from "../../helpers/security.ts";

/**
 * "Retry now" under real concurrency: parallel HTTP calls, split between two API instances (two
 * pools on one database, as two `signalpost api` processes would be), with real workers and a real
 * receiver. Only the first retry of a burst starts a cycle; the others merge into it.
 */

let t: TestApp;
/** A second API on the same database, without workers. */
let api2: TestApp;
beforeAll(async () => {
  const env = { CIRCUIT_FAILURE_THRESHOLD: "10000" };
  t = await startTestApp({ env, listen: true });
  api2 = await startTestApp({ env, listen: true, database: t.db, workers: false });
});
afterAll(async () => {
  await api2?.close();
  await t?.close();
});

type Tenant = TestKey & { tenantId: string };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const triggers = (rows: Attempt[]) => rows.map((a) => [a.number, a.trigger]);

async function endpointFor(tenant: Tenant, url: string, retrySchedule: number[]): Promise<string> {
  const res = await t.request("POST", "/v1/endpoints", { token: tenant.token, body: { url, retrySchedule } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id;
}

/** `n` retries of one delivery at once, over real HTTP, alternating between the two API processes. */
async function retriesAtOnce(tenant: Tenant, deliveryId: string, n: number) {
  return Promise.all(
    Array.from({ length: n }, (_, i) =>
      (i % 2 ? api2 : t).request("POST", `/v1/deliveries/${deliveryId}/retry`, { token: tenant.token }),
    ),
  );
}

/** A delivery that failed through its whole cycle (3 attempts with a two-step schedule). */
async function deadDelivery(tenant: Tenant, endpointId: string) {
  const ev = await publish(t, "webhook.test", { n: 1 }, { tenantId: tenant.tenantId });
  const d = await settledDelivery(t, ev.id, endpointId, { statuses: ["dead"] });
  expect(d.attemptCount).toBe(3);
  return { ev, d };
}

const retryAudits = (deliveryId: string) =>
  t.deps.db
    .select()
    .from(auditLog)
    .where(and(eq(auditLog.targetId, deliveryId), eq(auditLog.action, "delivery.retry")))
    .orderBy(asc(auditLog.id));

describe("parallel retries of one delivery", () => {
  test("10 at once: one manual request, then the fresh cycle's scheduled retries, as with one retry", async () => {
    const ten = await createTenantWithKey(t.deps.db);
    // 302 is a failure (redirects are never followed). The manual attempt (4th request) answers
    // slowly, so every retry of the burst lands while it is queued or in flight.
    const rx = await startReceiver(async (_req, i) => {
      if (i === 3) await sleep(700);
      return { status: 302, headers: { location: "https://elsewhere.example/" } };
    });
    const ep = await endpointFor(ten, rx.url, [50, 100]);
    const { ev, d } = await deadDelivery(ten, ep);

    const answers = await retriesAtOnce(ten, d.id, 10);
    for (const a of answers) expect(a.status, JSON.stringify(a.body)).toBe(202);
    // Merged calls answer with the same pending state the first one created.
    expect(new Set(answers.map((a) => a.text)).size).toBe(1);
    expect(answers[0]?.body).toMatchObject({ status: "pending", attemptCount: 3, completedAt: null });

    const again = await settledDelivery(t, ev.id, ep, { statuses: ["dead"], timeoutMs: 10_000 });
    const rows = await attemptsOf(t, d.id);
    expect(triggers(rows)).toEqual([
      [1, "scheduled"],
      [2, "scheduled"],
      [3, "scheduled"],
      [4, "manual"],
      [5, "scheduled"],
      [6, "scheduled"],
    ]);
    // The fresh cycle's schedule (50, then 100 ms), counted from the end of the attempt before.
    const start = (n: number) => rows[n]?.startedAt.getTime() ?? Number.NaN;
    const end = (n: number) => start(n) + (rows[n]?.durationMs ?? Number.NaN);
    expect(start(4)).toBeGreaterThanOrEqual(end(3) + 50 - 2);
    expect(start(5)).toBeGreaterThanOrEqual(end(4) + 100 - 2);
    expect(again).toMatchObject({ status: "dead", attemptCount: 6, cycleStart: 3 });
    // Nothing else reaches the receiver afterwards.
    await sleep(300);
    expect(rx.requests).toHaveLength(6);

    // One audit row per accepted call; only the first started the cycle.
    const audits = await retryAudits(d.id);
    expect(audits).toHaveLength(10);
    const started = audits.filter((a) => a.details.merged === false);
    expect(started).toHaveLength(1);
    expect(started[0]).toMatchObject({
      actorId: ten.id,
      tenantId: ten.tenantId,
      details: { previousStatus: "dead", attemptCount: 3, merged: false },
    });
    for (const a of audits.filter((a) => a !== started[0]))
      expect(a.details).toEqual({ previousStatus: "pending", attemptCount: 3, merged: true });
    await rx.close();
  });

  test("a retry after the manual attempt ran starts another cycle, even while that cycle is pending", async () => {
    const ten = await createTenantWithKey(t.deps.db);
    const rx = await startReceiver(() => ({ status: 500 }));
    // A long first step, so the delivery sits pending between the manual attempt and its retry.
    const ep = await endpointFor(ten, rx.url, [400, 50]);
    const { ev, d } = await deadDelivery(ten, ep);

    expect((await retriesAtOnce(ten, d.id, 3)).map((a) => a.status)).toEqual([202, 202, 202]);
    // The manual attempt is recorded and the fresh cycle's first retry is scheduled.
    const waiting = await waitUntil(async () => {
      const [row] = await t.deps.db.select().from(deliveries).where(eq(deliveries.id, d.id));
      return row?.attemptCount === 4 && row.status === "pending" ? row : null;
    });
    expect(waiting.nextAttemptAt?.getTime()).toBeGreaterThan(Date.now());
    const second = await retriesAtOnce(ten, d.id, 3);
    expect(second.map((a) => a.status)).toEqual([202, 202, 202]);
    expect(second[0]?.body).toMatchObject({ status: "pending", attemptCount: 4 });

    const final = await settledDelivery(t, ev.id, ep, { statuses: ["dead"] });
    expect(triggers(await attemptsOf(t, d.id))).toEqual([
      [1, "scheduled"],
      [2, "scheduled"],
      [3, "scheduled"],
      [4, "manual"],
      [5, "manual"],
      [6, "scheduled"],
      [7, "scheduled"],
    ]);
    expect(final).toMatchObject({ attemptCount: 7, cycleStart: 4 });
    await sleep(200);
    expect(rx.requests).toHaveLength(7);
    const audits = await retryAudits(d.id);
    // The bursts are far apart, so ids (time-sortable) keep them apart; within one, any order.
    const merged = audits.map((a) => a.details.merged);
    expect(merged).toHaveLength(6);
    expect([...merged.slice(0, 3)].sort()).toEqual([false, true, true]);
    expect([...merged.slice(3)].sort()).toEqual([false, true, true]);
    await rx.close();
  });

  test("a redrive and retries at once: one manual request, one fresh cycle", async () => {
    const ten = await createTenantWithKey(t.deps.db);
    // Fails its first cycle; the next request (the redrive's or retry's) answers slowly, then 200.
    const rx = await startReceiver(async (_req, i) => {
      if (i < 3) return { status: 500 };
      await sleep(300);
      return { status: 200 };
    });
    const ep = await endpointFor(ten, rx.url, [50, 50]);
    const { ev, d } = await deadDelivery(ten, ep);

    const [redrive, ...retries] = await Promise.all([
      api2.request("POST", "/v1/dead-letters/redrive", { token: ten.token, body: { deliveryIds: [d.id] } }),
      ...Array.from({ length: 5 }, () =>
        t.request("POST", `/v1/deliveries/${d.id}/retry`, { token: ten.token }),
      ),
    ]);
    expect(redrive?.status).toBe(202);
    for (const r of retries) expect(r.status).toBe(202);
    await settledDelivery(t, ev.id, ep, { statuses: ["succeeded"] });
    expect(triggers(await attemptsOf(t, d.id))).toEqual([
      [1, "scheduled"],
      [2, "scheduled"],
      [3, "scheduled"],
      [4, "manual"],
    ]);
    await sleep(200);
    expect(rx.requests).toHaveLength(4);
    await rx.close();
  });
});

describe("a retry while a scheduled attempt is in flight", () => {
  test("the superseded attempt is logged but does not use up a step of the fresh cycle", async () => {
    const ten = await createTenantWithKey(t.deps.db);
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    // The first (scheduled) request is held open until the manual attempt has been recorded; every
    // request fails (500).
    const rx = await startReceiver(async (_req, i) => {
      if (i === 0) await held;
      return { status: 500 };
    });
    const ep = await endpointFor(ten, rx.url, [300, 600]);
    const ev = await publish(t, "webhook.test", { n: 1 }, { tenantId: ten.tenantId });
    await rx.waitFor(1);
    const d = await waitUntil(
      async () => (await t.deps.db.select().from(deliveries).where(eq(deliveries.eventId, ev.id)))[0] ?? null,
      5_000,
      "the delivery row",
    );
    const retried = await t.request("POST", `/v1/deliveries/${d.id}/retry`, { token: ten.token });
    expect(retried.status).toBe(202);
    await waitUntil(
      async () => (await attemptsOf(t, d.id)).length === 1 || null,
      5_000,
      "the manual attempt",
    );
    release();
    const done = await settledDelivery(t, ev.id, ep, { statuses: ["dead"], timeoutMs: 10_000 });
    const rows = await attemptsOf(t, d.id);
    // The manual attempt, the superseded scheduled one (recorded second), then both retries of the
    // fresh cycle's schedule: the superseded attempt did not count against it.
    expect(triggers(rows)).toEqual([
      [1, "manual"],
      [2, "scheduled"],
      [3, "scheduled"],
      [4, "scheduled"],
    ]);
    expect(done).toMatchObject({ status: "dead", attemptCount: 4, cycleStart: 1 });
    expect(rx.requests).toHaveLength(4);
    await rx.close();
  });
});
