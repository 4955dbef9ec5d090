import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { auditLog, deliveries } from "../../../db/schema/index.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { publish, settledDelivery } from "../../helpers/fixtures.ts";
import { problem } from "../../helpers/problems.ts";
import { startReceiver } from "../../helpers/receiver.ts";
import { createKey, createTenantWithKey, type TestKey, unusedId } from "../../helpers/security.ts";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({
    env: { DELIVERY_RETRY_SCHEDULE: "50ms,50ms", CIRCUIT_FAILURE_THRESHOLD: "10000" },
  });
});
afterAll(async () => {
  await t?.close();
});

type Tenant = TestKey & { tenantId: string };

async function endpointFor(
  tenant: Tenant,
  url: string,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const res = await t.request("POST", "/v1/endpoints", { token: tenant.token, body: { url, ...extra } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id;
}

const ids = (res: { body: { data: { id: string }[] } }) => res.body.data.map((d) => d.id);

describe("happy paths", () => {
  test("list with filters (endpoint, event, status, time) and cursor pagination, newest first", async () => {
    const ten = await createTenantWithKey(t.deps.db);
    const ok = await startReceiver();
    const bad = await startReceiver(() => ({ status: 500 }));
    const epOk = await endpointFor(ten, ok.url);
    const epBad = await endpointFor(ten, bad.url);
    const e1 = await publish(t, "webhook.test", { n: 1 }, { tenantId: ten.tenantId });
    const e2 = await publish(t, "webhook.test", { n: 2 }, { tenantId: ten.tenantId });
    const settled = [];
    for (const e of [e1, e2])
      for (const ep of [epOk, epBad]) settled.push(await settledDelivery(t, e.id, ep));
    const byKey = new Map(settled.map((d) => [`${d.eventId}/${d.endpointId}`, d.id]));
    const all = await t.request("GET", "/v1/deliveries?limit=100", { token: ten.token });
    expect(all.status).toBe(200);
    expect(ids(all)).toEqual([...settled.map((d) => d.id)].sort().reverse());
    expect(all.body.data[0]).toEqual({
      id: expect.stringMatching(/^dlv_/),
      eventId: expect.any(String),
      endpointId: expect.any(String),
      tenantId: ten.tenantId,
      eventType: "webhook.test",
      status: expect.stringMatching(/^(succeeded|dead)$/),
      attemptCount: expect.any(Number),
      nextAttemptAt: null,
      lastAttemptAt: expect.any(String),
      lastStatusCode: expect.any(Number),
      lastError: expect.anything(),
      completedAt: expect.any(String),
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });

    const q = async (query: string) =>
      ids(await t.request("GET", `/v1/deliveries?${query}`, { token: ten.token }));
    // Newest first by id; fan-out jobs may run in either order, so compare with the ids sorted.
    const newestFirst = (...keys: string[]) =>
      keys
        .map((k) => byKey.get(k))
        .sort()
        .reverse();
    expect(await q(`endpointId=${epOk}`)).toEqual(newestFirst(`${e1.id}/${epOk}`, `${e2.id}/${epOk}`));
    expect(await q(`eventId=${e1.id}`)).toEqual(newestFirst(`${e1.id}/${epOk}`, `${e1.id}/${epBad}`));
    expect(await q("status=dead")).toEqual(newestFirst(`${e1.id}/${epBad}`, `${e2.id}/${epBad}`));
    expect(await q(`status=succeeded&endpointId=${epBad}`)).toEqual([]);
    const future = new Date(Date.now() + 60_000).toISOString();
    const past = new Date(Date.now() - 60_000).toISOString();
    expect(await q(`since=${future}`)).toEqual([]);
    expect(await q(`since=${past}&until=${future}`)).toHaveLength(4);
    expect(await q(`until=${past}`)).toEqual([]);

    const p1 = await t.request("GET", "/v1/deliveries?limit=3", { token: ten.token });
    expect(p1.body).toMatchObject({ hasMore: true, nextCursor: p1.body.data[2].id });
    const p2 = await t.request("GET", `/v1/deliveries?limit=3&cursor=${p1.body.nextCursor}`, {
      token: ten.token,
    });
    expect(p2.body).toMatchObject({ hasMore: false, nextCursor: null });
    expect([...ids(p1), ...ids(p2)]).toEqual(ids(all));
    await ok.close();
    await bad.close();
  });

  test("get: the delivery with every attempt in order", async () => {
    const ten = await createTenantWithKey(t.deps.db);
    let n = 0;
    const rx = await startReceiver(() =>
      n++ === 0 ? { status: 503, body: "busy" } : { status: 200, body: '{"ok":true}' },
    );
    const ep = await endpointFor(ten, rx.url, {
      headers: { authorization: "Bearer hide-me", "x-team": "q" },
    });
    const ev = await publish(t, "webhook.test", { n: 1 }, { tenantId: ten.tenantId });
    const d = await settledDelivery(t, ev.id, ep);
    const res = await t.request("GET", `/v1/deliveries/${d.id}`, { token: ten.token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: d.id, status: "succeeded", attemptCount: 2, lastStatusCode: 200 });
    expect(res.body.attempts).toHaveLength(2);
    const [first, second] = res.body.attempts;
    expect(first).toEqual({
      id: expect.stringMatching(/^att_/),
      number: 1,
      trigger: "scheduled",
      outcome: "failed",
      url: rx.url,
      startedAt: expect.any(String),
      durationMs: expect.any(Number),
      statusCode: 503,
      errorClass: "http_error",
      errorMessage: null,
      requestHeaders: expect.objectContaining({
        "webhook-id": ev.id,
        "x-team": "q",
        authorization: "********",
      }),
      responseHeaders: expect.any(Object),
      responseBody: "busy",
      responseTruncated: false,
    });
    expect(second).toMatchObject({
      number: 2,
      outcome: "succeeded",
      statusCode: 200,
      responseBody: '{"ok":true}',
    });
    expect(Date.parse(second.startedAt)).toBeGreaterThanOrEqual(Date.parse(first.startedAt) + 50);
    expect(res.text).not.toContain("hide-me");
    const attempts = await t.request("GET", `/v1/deliveries/${d.id}/attempts`, { token: ten.token });
    expect(attempts.body).toEqual({ data: res.body.attempts });
    await rx.close();
  });

  test("retry now: a fresh cycle at once, trigger manual, even for a succeeded delivery", async () => {
    const ten = await createTenantWithKey(t.deps.db);
    const rx = await startReceiver();
    const ep = await endpointFor(ten, rx.url);
    const ev = await publish(t, "webhook.test", { n: 1 }, { tenantId: ten.tenantId });
    const d = await settledDelivery(t, ev.id, ep);
    expect(d.status).toBe("succeeded");
    const res = await t.request("POST", `/v1/deliveries/${d.id}/retry`, { token: ten.token });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ id: d.id, status: "pending", completedAt: null, attemptCount: 1 });
    const [row] = await t.deps.db.select().from(deliveries).where(eq(deliveries.id, d.id));
    expect(row).toMatchObject({ cycleStart: 1, generation: d.generation + 1 });
    const [r1, r2] = await rx.waitFor(2);
    expect(r2?.headers["webhook-id"]).toBe(r1?.headers["webhook-id"]);
    expect(r2?.body.equals(r1?.body ?? Buffer.alloc(0))).toBe(true);
    await settledDelivery(t, ev.id, ep, { statuses: ["succeeded"] });
    const got = await t.request("GET", `/v1/deliveries/${d.id}`, { token: ten.token });
    expect(got.body.attempts.map((a: { number: number; trigger: string }) => [a.number, a.trigger])).toEqual([
      [1, "scheduled"],
      [2, "manual"],
    ]);
    const [audit] = await t.deps.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.targetId, d.id), eq(auditLog.action, "delivery.retry")));
    expect(audit).toMatchObject({
      actorId: ten.id,
      tenantId: ten.tenantId,
      details: { previousStatus: "succeeded" },
    });
    await rx.close();
  });

  test("retry is refused (409) when the endpoint is disabled or deleted", async () => {
    const ten = await createTenantWithKey(t.deps.db);
    const rx = await startReceiver();
    const ep = await endpointFor(ten, rx.url);
    const ev = await publish(t, "webhook.test", { n: 1 }, { tenantId: ten.tenantId });
    const d = await settledDelivery(t, ev.id, ep);
    await t.request("PATCH", `/v1/endpoints/${ep}`, { token: ten.token, body: { disabled: true } });
    expect((await t.request("POST", `/v1/deliveries/${d.id}/retry`, { token: ten.token })).body).toEqual(
      problem(409, "conflict", "Conflict", `endpoint ${ep} is disabled; enable it before retrying`),
    );
    await t.request("DELETE", `/v1/endpoints/${ep}`, { token: ten.token });
    expect((await t.request("POST", `/v1/deliveries/${d.id}/retry`, { token: ten.token })).body).toEqual(
      problem(
        409,
        "conflict",
        "Conflict",
        `endpoint ${ep} has been deleted; its deliveries cannot be retried`,
      ),
    );
    // The delivery log of a deleted endpoint stays readable.
    expect((await t.request("GET", `/v1/deliveries/${d.id}`, { token: ten.token })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 200));
    expect(rx.requests).toHaveLength(1);
    await rx.close();
  });
});

describe("bad input", () => {
  const cases: [string, string, unknown][] = [
    [
      "unknown status",
      "status=failed",
      [
        {
          path: "query.status",
          message: 'Invalid option: expected one of "pending"|"succeeded"|"dead"|"cancelled"',
          code: "invalid_value",
        },
      ],
    ],
    [
      "bad since",
      "since=yesterday",
      [{ path: "query.since", message: "Invalid ISO datetime", code: "invalid_format" }],
    ],
    [
      "limit 0",
      "limit=0",
      [{ path: "query.limit", message: "Too small: expected number to be >=1", code: "too_small" }],
    ],
    [
      "limit not a number",
      "limit=ten",
      [
        {
          path: "query.limit",
          message: "Invalid input: expected number, received NaN",
          code: "invalid_type",
        },
      ],
    ],
  ];
  test.each(cases)("list: %s", async (_name, query, errors) => {
    const res = await t.request("GET", `/v1/deliveries?${query}`);
    expect(res.body).toEqual(
      problem(
        400,
        "validation_failed",
        "Validation failed",
        "the request query is invalid",
        errors as unknown[],
      ),
    );
  });
});

describe("security", () => {
  test("another tenant's delivery → 404 on every route; lists show only one's own", async () => {
    const owner = await createTenantWithKey(t.deps.db);
    const other = await createTenantWithKey(t.deps.db);
    const rx = await startReceiver();
    const ep = await endpointFor(owner, rx.url);
    const ev = await publish(t, "webhook.test", { n: 1 }, { tenantId: owner.tenantId });
    const d = await settledDelivery(t, ev.id, ep);
    const notFound = problem(404, "not_found", "Not found", `delivery ${d.id} was not found`);
    for (const [m, p] of [
      ["GET", `/v1/deliveries/${d.id}`],
      ["GET", `/v1/deliveries/${d.id}/attempts`],
      ["POST", `/v1/deliveries/${d.id}/retry`],
    ] as const)
      expect((await t.request(m, p, { token: other.token })).body, `${m} ${p}`).toEqual(notFound);
    for (const query of ["", `?endpointId=${ep}`, `?eventId=${ev.id}`, "?status=succeeded"])
      expect((await t.request("GET", `/v1/deliveries${query}`, { token: other.token })).body.data).toEqual(
        [],
      );
    await new Promise((r) => setTimeout(r, 150));
    expect(rx.requests).toHaveLength(1);
    // A tenant naming another tenant still sees only its own.
    expect(
      (await t.request("GET", `/v1/deliveries?tenantId=${owner.tenantId}`, { token: other.token })).body.data,
    ).toEqual([]);
    // The operator sees everyone's, and can narrow the list to one tenant.
    expect((await t.request("GET", `/v1/deliveries/${d.id}`)).status).toBe(200);
    expect(ids(await t.request("GET", `/v1/deliveries?tenantId=${owner.tenantId}`))).toEqual([d.id]);
    expect(ids(await t.request("GET", `/v1/deliveries?tenantId=${other.tenantId}`))).toEqual([]);
    const unknown = unusedId("dlv");
    expect((await t.request("GET", `/v1/deliveries/${unknown}`)).status).toBe(404);
    await rx.close();
  });

  test("scopes: deliveries:read cannot retry; other scopes cannot read", async () => {
    const owner = await createTenantWithKey(t.deps.db);
    const reader = await createKey(t.deps.db, { tenantId: owner.tenantId, scopes: ["deliveries:read"] });
    const epOnly = await createKey(t.deps.db, { tenantId: owner.tenantId, scopes: ["endpoints:read"] });
    const id = unusedId("dlv");
    expect((await t.request("POST", `/v1/deliveries/${id}/retry`, { token: reader.token })).body).toEqual(
      problem(403, "forbidden", "Forbidden", 'this operation needs the "deliveries:write" scope'),
    );
    expect((await t.request("GET", "/v1/deliveries", { token: reader.token })).status).toBe(200);
    expect((await t.request("GET", "/v1/deliveries", { token: epOnly.token })).status).toBe(403);
    expect((await t.request("GET", "/v1/deliveries", { token: null })).status).toBe(401);
  });
});
