import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { auditLog, deliveries } from "../../../db/schema/index.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { attemptsOf, publish, settledDelivery, waitUntil } from "../../helpers/fixtures.ts";
import { problem } from "../../helpers/problems.ts";
import { startReceiver } from "../../helpers/receiver.ts";
import { createKey, createTenantWithKey, type TestKey, unusedId } from "../../helpers/security.ts";

/** N = 2 retry delays: every cycle is exactly N + 1 = 3 requests. */
const N = 2;

let t: TestApp;
beforeAll(async () => {
  // The circuit breaker is someone else's subject; keep it out of the way of exact attempt counts.
  t = await startTestApp({
    env: { DELIVERY_RETRY_SCHEDULE: "30ms,30ms", CIRCUIT_FAILURE_THRESHOLD: "10000" },
  });
});
afterAll(async () => {
  await t?.close();
});

type Tenant = TestKey & { tenantId: string };

async function endpointFor(tenant: Tenant, url: string): Promise<string> {
  const res = await t.request("POST", "/v1/endpoints", { token: tenant.token, body: { url } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id;
}

/** A tenant with an always-failing endpoint and `count` events dead-lettered on it. */
async function deadLetters(count: number, type = "webhook.test") {
  const tenant = await createTenantWithKey(t.deps.db);
  const rx = await startReceiver(() => ({ status: 500, body: "down" }));
  const endpointId = await endpointFor(tenant, rx.url);
  const dead = [];
  for (let i = 0; i < count; i++) {
    const ev = await publish(t, type, { i }, { tenantId: tenant.tenantId });
    dead.push(await settledDelivery(t, ev.id, endpointId, { statuses: ["dead"] }));
  }
  return { tenant, rx, endpointId, dead };
}

const ids = (res: { body: { data: { id: string }[] } }) => res.body.data.map((d) => d.id);

describe("happy paths", () => {
  test("a dead delivery is listed; redrive → fails again → dead again after exactly N + 1 more attempts", async () => {
    const { tenant, rx, endpointId, dead } = await deadLetters(1);
    const [d] = dead;
    if (!d) throw new Error("no delivery");
    expect(d).toMatchObject({ status: "dead", attemptCount: N + 1 });
    expect(rx.requests).toHaveLength(N + 1);

    const list = await t.request("GET", "/v1/dead-letters", { token: tenant.token });
    expect(list.status).toBe(200);
    expect(list.body).toEqual({
      data: [expect.objectContaining({ id: d.id, status: "dead", endpointId, lastStatusCode: 500 })],
      hasMore: false,
      nextCursor: null,
    });

    const res = await t.request("POST", "/v1/dead-letters/redrive", {
      token: tenant.token,
      body: { deliveryIds: [d.id] },
    });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ redriven: 1, skipped: 0, notFound: [], notDead: [] });
    const again = await waitUntil(async () => {
      const [row] = await t.deps.db.select().from(deliveries).where(eq(deliveries.id, d.id));
      return row?.status === "dead" && row.attemptCount > N + 1 ? row : null;
    });
    expect(again.attemptCount).toBe(2 * (N + 1));
    await new Promise((r) => setTimeout(r, 200));
    expect(rx.requests).toHaveLength(2 * (N + 1));
    const attempts = await attemptsOf(t, d.id);
    expect(attempts.map((a) => [a.number, a.trigger, a.outcome])).toEqual([
      [1, "scheduled", "failed"],
      [2, "scheduled", "failed"],
      [3, "scheduled", "failed"],
      [4, "manual", "failed"],
      [5, "scheduled", "failed"],
      [6, "scheduled", "failed"],
    ]);
    // Listed again as a dead letter.
    expect(ids(await t.request("GET", "/v1/dead-letters", { token: tenant.token }))).toEqual([d.id]);
    const [audit] = await t.deps.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.targetId, d.id), eq(auditLog.action, "dead_letter.redrive")));
    expect(audit).toMatchObject({ actorId: tenant.id, tenantId: tenant.tenantId, details: { count: 1 } });
    await rx.close();
  });

  test("bulk redrive by endpoint; filters on the list (endpoint, event type, since); pagination", async () => {
    const { tenant, rx, endpointId, dead } = await deadLetters(3);
    const signal = await publish(t, "signal.changed", { s: 1 }, { tenantId: tenant.tenantId });
    const sig = await settledDelivery(t, signal.id, endpointId, { statuses: ["dead"] });
    const all = [...dead.map((d) => d.id), sig.id].sort().reverse();

    expect(
      ids(await t.request("GET", `/v1/dead-letters?endpointId=${endpointId}`, { token: tenant.token })),
    ).toEqual(all);
    expect(
      ids(await t.request("GET", "/v1/dead-letters?eventType=signal.changed", { token: tenant.token })),
    ).toEqual([sig.id]);
    const future = new Date(Date.now() + 60_000).toISOString();
    expect(ids(await t.request("GET", `/v1/dead-letters?since=${future}`, { token: tenant.token }))).toEqual(
      [],
    );
    const p1 = await t.request("GET", "/v1/dead-letters?limit=2", { token: tenant.token });
    const p2 = await t.request("GET", `/v1/dead-letters?limit=2&cursor=${p1.body.nextCursor}`, {
      token: tenant.token,
    });
    expect([...ids(p1), ...ids(p2)]).toEqual(all);
    expect(p2.body.hasMore).toBe(false);

    const before = rx.requests.length;
    const res = await t.request("POST", "/v1/dead-letters/redrive", {
      token: tenant.token,
      body: { endpointId },
    });
    expect(res.body).toEqual({ redriven: 4, skipped: 0, notFound: [], notDead: [] });
    await waitUntil(async () => {
      const rows = await t.deps.db.select().from(deliveries).where(eq(deliveries.endpointId, endpointId));
      return rows.every((r) => r.status === "dead" && r.attemptCount === 2 * (N + 1));
    });
    expect(rx.requests.length - before).toBe(4 * (N + 1));

    // `since` selects by dead-letter time: nothing died after "now + 1 min".
    const none = await t.request("POST", "/v1/dead-letters/redrive", {
      token: tenant.token,
      body: { endpointId, since: future },
    });
    expect(none.body).toEqual({ redriven: 0, skipped: 0, notFound: [], notDead: [] });
    await rx.close();
  });

  test("dead letters of a disabled endpoint are skipped, not redriven", async () => {
    const { tenant, rx, endpointId, dead } = await deadLetters(1);
    await t.request("PATCH", `/v1/endpoints/${endpointId}`, {
      token: tenant.token,
      body: { disabled: true },
    });
    const res = await t.request("POST", "/v1/dead-letters/redrive", {
      token: tenant.token,
      body: { deliveryIds: dead.map((d) => d.id) },
    });
    expect(res.body).toEqual({ redriven: 0, skipped: 1, notFound: [], notDead: [] });
    const [row] = await t.deps.db.select().from(deliveries).where(eq(deliveries.endpointId, endpointId));
    expect(row?.status).toBe("dead");
    await rx.close();
  });
});

describe("bad input", () => {
  const cases: [string, unknown, unknown[]][] = [
    [
      "no selector",
      {},
      [
        {
          path: "body",
          message: "name deliveryIds, endpointId or since (or a combination)",
          code: "required",
        },
      ],
    ],
    [
      "1001 ids",
      { deliveryIds: Array.from({ length: 1001 }, (_, i) => `dlv_${i}`) },
      [
        {
          path: "body.deliveryIds",
          message: "Too big: expected array to have <=1000 items",
          code: "too_big",
        },
      ],
    ],
    [
      "empty id list",
      { deliveryIds: [] },
      [
        {
          path: "body.deliveryIds",
          message: "Too small: expected array to have >=1 items",
          code: "too_small",
        },
      ],
    ],
    [
      "wrong type",
      { endpointId: 42 },
      [
        {
          path: "body.endpointId",
          message: "Invalid input: expected string, received number",
          code: "invalid_type",
        },
      ],
    ],
    [
      "bad since",
      { since: "last week" },
      [{ path: "body.since", message: "Invalid ISO datetime", code: "invalid_format" }],
    ],
    [
      "unknown field",
      { all: true },
      [{ path: "body", message: 'Unrecognized key: "all"', code: "unrecognized_keys" }],
    ],
  ];
  test.each(cases)("redrive: %s", async (_name, body, errors) => {
    const res = await t.request("POST", "/v1/dead-letters/redrive", { body });
    expect(res.body).toEqual(
      problem(400, "validation_failed", "Validation failed", "the request body is invalid", errors),
    );
  });

  test("redrive: empty body", async () => {
    const res = await t.request("POST", "/v1/dead-letters/redrive", { rawBody: "" });
    expect(res.body).toEqual(problem(400, "bad_request", "Bad request", "Malformed JSON in request body"));
  });
});

describe("security", () => {
  test("a tenant cannot see or redrive another tenant's dead letters", async () => {
    const { rx, endpointId, dead } = await deadLetters(1);
    const other = await createTenantWithKey(t.deps.db);
    expect((await t.request("GET", "/v1/dead-letters", { token: other.token })).body.data).toEqual([]);
    expect(
      (await t.request("GET", `/v1/dead-letters?endpointId=${endpointId}`, { token: other.token })).body.data,
    ).toEqual([]);
    const deadIds = dead.map((d) => d.id);
    // Another tenant's ids read exactly like unknown ones.
    for (const [body, notFound] of [
      [{ deliveryIds: deadIds }, deadIds],
      [{ endpointId }, []],
    ] as const) {
      const res = await t.request("POST", "/v1/dead-letters/redrive", { token: other.token, body });
      expect(res.body).toEqual({ redriven: 0, skipped: 0, notFound, notDead: [] });
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(rx.requests).toHaveLength(N + 1);
    const [row] = await t.deps.db.select().from(deliveries).where(eq(deliveries.endpointId, endpointId));
    expect(row).toMatchObject({ status: "dead", attemptCount: N + 1 });
    // The operator sees (and may redrive) every tenant's.
    expect(ids(await t.request("GET", `/v1/dead-letters?endpointId=${endpointId}`))).toEqual(
      dead.map((d) => d.id),
    );
    await rx.close();
  });

  test("scopes: deliveries:read may list but not redrive", async () => {
    const ten = await createTenantWithKey(t.deps.db);
    const reader = await createKey(t.deps.db, { tenantId: ten.tenantId, scopes: ["deliveries:read"] });
    expect((await t.request("GET", "/v1/dead-letters", { token: reader.token })).status).toBe(200);
    expect(
      (
        await t.request("POST", "/v1/dead-letters/redrive", {
          token: reader.token,
          body: { deliveryIds: [unusedId("dlv")] },
        })
      ).body,
    ).toEqual(problem(403, "forbidden", "Forbidden", 'this operation needs the "deliveries:write" scope'));
    expect((await t.request("GET", "/v1/dead-letters", { token: null })).status).toBe(401);
  });
});
