import { count, eq, sql } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { auditLog, events, idempotencyKeys } from "../../../db/schema/index.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { createEndpoint, settledDelivery } from "../../helpers/fixtures.ts";
import { type ErrorRow, expectProblem } from "../../helpers/problems.ts";
import { startReceiver } from "../../helpers/receiver.ts";
import { createKey, createTenantWithKey, unusedId } from "../../helpers/security.ts";

const MAX_PAYLOAD = 2048;
/** An operator type without a schema: its data may be any object. */
const ANY = "test.any";
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ env: { MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD) } });
  // Built-in types enforce their schemas; tests about publishing itself use a type without one.
  const created = await t.request("POST", "/v1/event-types", {
    body: { name: ANY, description: "any object (no schema)" },
  });
  expect(created.status).toBe(201);
});
afterAll(async () => {
  await t?.close();
});

async function eventCount(where = sql`true`): Promise<number> {
  const [row] = await t.deps.db.select({ n: count() }).from(events).where(where);
  return row?.n ?? 0;
}

const grade = (symbol: string) => ({
  symbol,
  kind: "tm_grade",
  previous: { score: 60, label: "Neutral" },
  current: { score: 75, label: "Buy" },
  observedAt: "2026-12-03T00:00:00Z",
  source: "api",
});

const signal = {
  symbol: "BTC",
  kind: "trading_signal",
  timeframe: "1d",
  previous: { value: "bearish", score: -1 },
  current: { value: "bullish", score: 1 },
  observedAt: "2026-12-03T00:00:00Z",
  source: "api",
};

describe("publish", () => {
  test("one event: 202 with the stored event; GET returns its data; audited", async () => {
    const res = await t.request("POST", "/v1/events", {
      body: { type: "signal.changed", data: signal, timestamp: "2026-12-03T01:02:03+01:00" },
    });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^evt_[0-9A-Z]{26}$/),
      type: "signal.changed",
      tenantId: null,
      symbol: "BTC", // taken from data.symbol
      timestamp: "2026-12-03T00:02:03.000Z",
      createdAt: expect.any(String),
    });
    expect(res.headers.get("idempotent-replayed")).toBeNull();
    const got = await t.request("GET", `/v1/events/${res.body.id}`);
    expect(got.body).toEqual({ ...res.body, data: signal });
    const audit = await t.deps.db.select().from(auditLog).where(eq(auditLog.targetId, res.body.id));
    expect(audit.map((a) => a.action)).toEqual(["event.publish"]);
  });

  test("targeting one tenant; an explicit symbol is stored (a contradicting data.symbol is a 422, see regressions)", async () => {
    const tenant = await createTenantWithKey(t.deps.db, ["events:read"]);
    const res = await t.request("POST", "/v1/events", {
      body: { type: ANY, data: { n: 1 }, tenantId: tenant.tenantId, symbol: "SOL" },
    });
    expect(res.body).toMatchObject({ tenantId: tenant.tenantId, symbol: "SOL" });
  });

  test("is delivered end to end, signed, with the data as published", async () => {
    const rx = await startReceiver();
    const ep = await createEndpoint(t, { url: rx.url });
    const data = { message: "héllo wörld 🚀 \u2028", endpointId: ep.id };
    const res = await t.request("POST", "/v1/events", {
      body: { type: "webhook.test", data, tenantId: ep.tenantId },
    });
    expect(res.status).toBe(202);
    const [req] = await rx.waitFor(1);
    expect(req?.headers["webhook-id"]).toBe(res.body.id);
    const verified = new Webhook(ep.secret).verify(req?.body.toString("utf8") ?? "", {
      "webhook-id": String(req?.headers["webhook-id"]),
      "webhook-timestamp": String(req?.headers["webhook-timestamp"]),
      "webhook-signature": String(req?.headers["webhook-signature"]),
    });
    expect(verified).toEqual({ type: "webhook.test", timestamp: res.body.timestamp, data });
    expect((await settledDelivery(t, res.body.id, ep.id)).status).toBe("succeeded");
    await rx.close();
  });

  test("a batch is stored in order, all at once, with one audit row", async () => {
    const res = await t.request("POST", "/v1/events/batch", {
      body: {
        events: [
          { type: "signal.changed", data: signal },
          { type: "grade.upgraded", data: grade("ETH") },
          { type: ANY, data: {}, symbol: "XRP" },
        ],
      },
    });
    expect(res.status).toBe(202);
    expect(res.body.data.map((e: { type: string; symbol: string }) => [e.type, e.symbol])).toEqual([
      ["signal.changed", "BTC"],
      ["grade.upgraded", "ETH"],
      [ANY, "XRP"],
    ]);
    const ids = res.body.data.map((e: { id: string }) => e.id);
    expect(ids).toEqual([...ids].sort());
    const audit = (await t.deps.db.select().from(auditLog)).filter((a) => a.action === "event.publish_batch");
    expect(audit.at(-1)?.details).toEqual({ count: 3, eventIds: ids });
  });

  test("a batch is all or nothing: one bad row stores none and names the row", async () => {
    const before = await eventCount();
    const rows = Array.from({ length: 5 }, (_, i) => ({ type: ANY, data: { i } }));
    const unknownType = rows.map((r, i) => (i === 3 ? { ...r, type: "no.such_type" } : r));
    expectProblem(
      await t.request("POST", "/v1/events/batch", { body: { events: unknownType } }),
      422,
      "unprocessable",
      ["body.events.3.type"],
    );
    const badTenant = rows.map((r, i) => (i === 1 ? { ...r, tenantId: unusedId("ten") } : r));
    expectProblem(
      await t.request("POST", "/v1/events/batch", { body: { events: badTenant } }),
      422,
      "unprocessable",
      ["body.events.1.tenantId"],
    );
    const wrongShape = rows.map((r, i) => (i === 3 ? { ...r, type: 5 } : i === 4 ? { ...r, extra: 1 } : r));
    expectProblem(
      await t.request("POST", "/v1/events/batch", { body: { events: wrongShape } }),
      400,
      "validation_failed",
      ["body.events.3.type", "body.events.4"],
    );
    const tooBig = rows.map((r, i) => (i === 2 ? { ...r, data: { pad: "x".repeat(MAX_PAYLOAD) } } : r));
    expectProblem(
      await t.request("POST", "/v1/events/batch", { body: { events: tooBig } }),
      413,
      "payload_too_large",
      ["body.events.2.data"],
    );
    const many = Array.from({ length: 101 }, () => rows[0]);
    expectProblem(
      await t.request("POST", "/v1/events/batch", { body: { events: many } }),
      400,
      "validation_failed",
      ["body.events"],
    );
    expectProblem(
      await t.request("POST", "/v1/events/batch", { body: { events: [] } }),
      400,
      "validation_failed",
      ["body.events"],
    );
    expect(await eventCount()).toBe(before);
  });

  test("payloads over MAX_PAYLOAD_BYTES (UTF-8 bytes of the envelope) are a 413", async () => {
    // 2-byte characters: under the limit in characters, over it in bytes.
    const res = await t.request("POST", "/v1/events", {
      body: { type: ANY, data: { pad: "é".repeat(MAX_PAYLOAD / 2) } },
    });
    expectProblem(res, 413, "payload_too_large", ["body.data"]);
    const fits = await t.request("POST", "/v1/events", {
      body: { type: ANY, data: { pad: "é".repeat(MAX_PAYLOAD / 2 - 100) } },
    });
    expect(fits.status).toBe(202);
  });
});

describe("Idempotency-Key", () => {
  test("a repeat returns the first answer, marked replayed, and stores nothing new", async () => {
    const body = { type: ANY, data: { a: 1, b: [1, 2] } };
    const headers = { "idempotency-key": "publish-once-1" };
    const first = await t.request("POST", "/v1/events", { body, headers });
    // Same JSON with its keys in another order is the same request.
    const second = await t.request("POST", "/v1/events", {
      rawBody: `{"data":{"b":[1,2],"a":1},"type":"${ANY}"}`,
      headers,
    });
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.text).toBe(first.text);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(await eventCount(eq(events.id, first.body.id))).toBe(1);
    expect(await eventCount(sql`${events.body}::jsonb -> 'data' = '{"a":1,"b":[1,2]}'::jsonb`)).toBe(1);
  });

  test("10 concurrent identical requests create exactly one event and answer identically", async () => {
    const marker = `concurrent-${Date.now()}`;
    const body = { type: ANY, data: { marker } };
    const responses = await Promise.all(
      Array.from({ length: 10 }, () =>
        t.request("POST", "/v1/events", { body, headers: { "idempotency-key": marker } }),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(202));
    expect(new Set(responses.map((r) => r.text)).size).toBe(1);
    expect(responses.filter((r) => r.headers.get("idempotent-replayed") === null)).toHaveLength(1);
    expect(await eventCount(sql`${events.body}::jsonb -> 'data' ->> 'marker' = ${marker}`)).toBe(1);
  });

  test("the same key with another body (or path) is a 422 and creates nothing", async () => {
    const headers = { "idempotency-key": "reused-key" };
    const first = await t.request("POST", "/v1/events", {
      body: { type: ANY, data: { v: 1 } },
      headers,
    });
    expect(first.status).toBe(202);
    const before = await eventCount();
    const other = await t.request("POST", "/v1/events", {
      body: { type: ANY, data: { v: 2 } },
      headers,
    });
    expectProblem(other, 422, "unprocessable", ["header.idempotency-key"]);
    expect(other.body.detail).toBe("Idempotency-Key reused with a different request");
    const batch = await t.request("POST", "/v1/events/batch", {
      body: { events: [{ type: ANY, data: { v: 1 } }] },
      headers,
    });
    expectProblem(batch, 422, "unprocessable", ["header.idempotency-key"]);
    expect(await eventCount()).toBe(before);
  });

  test("batches replay too; keys are per API key; failed requests store no key", async () => {
    const body = {
      events: [
        { type: ANY, data: { x: 1 } },
        { type: ANY, data: { x: 2 } },
      ],
    };
    const headers = { "idempotency-key": "batch-1" };
    const a = await t.request("POST", "/v1/events/batch", { body, headers });
    const b = await t.request("POST", "/v1/events/batch", { body, headers });
    expect(b.text).toBe(a.text);
    expect(b.headers.get("idempotent-replayed")).toBe("true");

    const other = await createKey(t.deps.db, { role: "operator", scopes: ["events:write"] });
    const c = await t.request("POST", "/v1/events/batch", { body, headers, token: other.token });
    expect(c.status).toBe(202);
    expect(c.body.data[0].id).not.toBe(a.body.data[0].id);

    const bad = await t.request("POST", "/v1/events", {
      body: { type: "no.such_type", data: {} },
      headers: { "idempotency-key": "failed-first" },
    });
    expect(bad.status).toBe(422);
    const stored = await t.deps.db
      .select()
      .from(idempotencyKeys)
      .where(eq(idempotencyKeys.key, "failed-first"));
    expect(stored).toEqual([]);
    const fixed = await t.request("POST", "/v1/events", {
      body: { type: ANY, data: {} },
      headers: { "idempotency-key": "failed-first" },
    });
    expect(fixed.status).toBe(202);
  });

  test.each([
    { name: "256 characters", key: "k".repeat(256) },
    { name: "non-ASCII", key: "clé" },
    { name: "empty", key: "" },
  ])("a key that is $name is a 400", async ({ key }) => {
    const res = await t.request("POST", "/v1/events", {
      body: { type: ANY, data: {} },
      headers: { "idempotency-key": key },
    });
    expectProblem(res, 400, "validation_failed", ["header.idempotency-key"]);
  });
});

describe("errors", () => {
  const table: ErrorRow[] = [
    {
      name: "empty object",
      body: {},
      status: 400,
      code: "validation_failed",
      paths: ["body.type", "body.data"],
    },
    { name: "malformed JSON", raw: '{"type": "webhook.test", ', status: 400, code: "bad_request" },
    {
      name: "data is an array",
      body: { type: "webhook.test", data: [1] },
      status: 400,
      code: "validation_failed",
      paths: ["body.data"],
    },
    {
      name: "data is a string",
      body: { type: "webhook.test", data: "x" },
      status: 400,
      code: "validation_failed",
      paths: ["body.data"],
    },
    {
      name: "type of wrong type",
      body: { type: 7, data: {} },
      status: 400,
      code: "validation_failed",
      paths: ["body.type"],
    },
    {
      name: "unknown field",
      body: { type: ANY, data: {}, priority: 1 },
      status: 400,
      code: "validation_failed",
      paths: ["body"],
    },
    {
      name: "bad timestamp",
      body: { type: ANY, data: {}, timestamp: "yesterday" },
      status: 400,
      code: "validation_failed",
      paths: ["body.timestamp"],
    },
    {
      name: "10,000-char type",
      body: { type: "t".repeat(10_000), data: {} },
      status: 400,
      code: "validation_failed",
      paths: ["body.type"],
    },
    {
      name: "10,000-char symbol",
      body: { type: ANY, data: {}, symbol: "S".repeat(10_000) },
      status: 400,
      code: "validation_failed",
      paths: ["body.symbol"],
    },
    {
      name: "unknown type",
      body: { type: "no.such_type", data: {} },
      status: 422,
      code: "unprocessable",
      paths: ["body.type"],
    },
    {
      name: "emoji type",
      body: { type: "🚀.launch", data: {} },
      status: 422,
      code: "unprocessable",
      paths: ["body.type"],
    },
    {
      name: "unknown tenant",
      body: { type: ANY, data: {}, tenantId: "ten_nope" },
      status: 422,
      code: "unprocessable",
      paths: ["body.tenantId"],
    },
  ];
  test.each(table)("POST /v1/events: $name → $status", async (row) => {
    const before = await eventCount();
    const res = await t.request(
      "POST",
      "/v1/events",
      row.raw !== undefined ? { rawBody: row.raw } : { body: row.body },
    );
    expectProblem(res, row.status, row.code, row.paths);
    expect(await eventCount()).toBe(before);
  });

  test("a deleted tenant cannot be targeted", async () => {
    const tenant = await createTenantWithKey(t.deps.db);
    expect((await t.request("DELETE", `/v1/tenants/${tenant.tenantId}`)).status).toBe(204);
    expectProblem(
      await t.request("POST", "/v1/events", {
        body: { type: ANY, data: {}, tenantId: tenant.tenantId },
      }),
      422,
      "unprocessable",
      ["body.tenantId"],
    );
  });

  test("list filters are validated", async () => {
    expectProblem(await t.request("GET", "/v1/events?since=yesterday"), 400, "validation_failed", [
      "query.since",
    ]);
    expectProblem(await t.request("GET", "/v1/events?limit=1000"), 400, "validation_failed", ["query.limit"]);
    expectProblem(await t.request("GET", `/v1/events/${unusedId("evt")}`), 404, "not_found");
  });
});

describe("list and read", () => {
  test("filters by type and creation time, pages newest first", async () => {
    await t.request("POST", "/v1/event-types", {
      body: { name: "listing.probe", description: "for this test" },
    });
    const since = new Date().toISOString();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(
        (await t.request("POST", "/v1/events", { body: { type: "listing.probe", data: { i } } })).body.id,
      );
    }
    await t.request("POST", "/v1/events", { body: { type: ANY, data: {} } });
    const p1 = await t.request("GET", "/v1/events?type=listing.probe&limit=2");
    expect(p1.body.data.map((e: { id: string }) => e.id)).toEqual([ids[2], ids[1]]);
    expect(p1.body.data[0].data).toEqual({ i: 2 });
    const p2 = await t.request("GET", `/v1/events?type=listing.probe&limit=2&cursor=${p1.body.nextCursor}`);
    expect(p2.body).toMatchObject({ hasMore: false, nextCursor: null });
    expect(p2.body.data.map((e: { id: string }) => e.id)).toEqual([ids[0]]);
    const sinceRes = await t.request("GET", `/v1/events?since=${encodeURIComponent(since)}&limit=100`);
    expect(sinceRes.body.data).toHaveLength(4);
    const untilRes = await t.request(
      "GET",
      `/v1/events?type=listing.probe&until=${encodeURIComponent(since)}`,
    );
    expect(untilRes.body.data).toEqual([]);
  });
});

describe("security", () => {
  test("tenants see events addressed or delivered to them; another tenant's are 404", async () => {
    const rxA = await startReceiver();
    const a = await createTenantWithKey(t.deps.db, ["events:read"]);
    const b = await createTenantWithKey(t.deps.db, ["events:read"]);
    const epA = await createEndpoint(t, { url: rxA.url, tenantId: a.tenantId });
    const direct = await t.request("POST", "/v1/events", {
      body: { type: ANY, data: {}, tenantId: a.tenantId },
    });
    // A broadcast reaches A's endpoint (so A may read it); B has no endpoint, so it may not.
    const broadcast = await t.request("POST", "/v1/events", {
      body: { type: "grade.upgraded", data: grade("ADA") },
    });
    await settledDelivery(t, broadcast.body.id, epA.id);

    for (const id of [direct.body.id, broadcast.body.id]) {
      expect((await t.request("GET", `/v1/events/${id}`, { token: a.token })).status).toBe(200);
      expectProblem(await t.request("GET", `/v1/events/${id}`, { token: b.token }), 404, "not_found");
    }
    const listA = await t.request("GET", "/v1/events?limit=100", { token: a.token });
    expect(listA.body.data.map((e: { id: string }) => e.id).sort()).toEqual(
      [direct.body.id, broadcast.body.id].sort(),
    );
    const listB = await t.request("GET", "/v1/events?limit=100", { token: b.token });
    expect(listB.body.data).toEqual([]);
    await rxA.close();
  });

  test("publishing needs an operator with events:write; reading needs events:read", async () => {
    const tenant = await createTenantWithKey(t.deps.db); // every tenant scope, incl. events:read
    const narrowOperator = await createKey(t.deps.db, { role: "operator", scopes: ["events:read"] });
    const noRead = await createTenantWithKey(t.deps.db, ["endpoints:read"]);
    for (const token of [tenant.token, narrowOperator.token]) {
      expectProblem(
        await t.request("POST", "/v1/events", { token, body: { type: ANY, data: {} } }),
        403,
        "forbidden",
      );
      expectProblem(await t.request("POST", "/v1/events/batch", { token, body: {} }), 403, "forbidden");
    }
    expectProblem(await t.request("GET", "/v1/events", { token: noRead.token }), 403, "forbidden");
    expectProblem(
      await t.request("GET", `/v1/events/${unusedId("evt")}`, { token: noRead.token }),
      403,
      "forbidden",
    );
    expectProblem(await t.request("POST", "/v1/events", { token: null, body: {} }), 401, "unauthorized");
    const revoked = await createKey(t.deps.db, {
      role: "operator",
      scopes: ["events:write"],
      revokedAt: new Date(),
    });
    expectProblem(
      await t.request("POST", "/v1/events", {
        token: revoked.token,
        body: { type: ANY, data: {} },
      }),
      401,
      "unauthorized",
    );
  });
});
