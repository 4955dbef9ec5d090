import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { auditLog, deliveries } from "../../../db/schema/index.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { createEndpoint, deliveryOf, waitUntil } from "../../helpers/fixtures.ts";
import { type ErrorRow, expectProblem } from "../../helpers/problems.ts";
import { startReceiver } from "../../helpers/receiver.ts";
import { createKey, createTenantWithKey, unusedId } from "../../helpers/security.ts";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

async function auditActions(targetId: string): Promise<string[]> {
  const rows = await t.deps.db.select().from(auditLog).where(eq(auditLog.targetId, targetId));
  return rows.map((r) => r.action).sort();
}

describe("happy paths", () => {
  test("create, get, update, list and delete a tenant, with an audit row for each change", async () => {
    const created = await t.request("POST", "/v1/tenants", {
      body: { name: "Acme Trading", metadata: { plan: "pro" } },
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^ten_[0-9A-Z]{26}$/),
      name: "Acme Trading",
      metadata: { plan: "pro" },
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
      deletedAt: null,
    });
    const id = created.body.id as string;

    expect((await t.request("GET", `/v1/tenants/${id}`)).body).toEqual(created.body);

    const updated = await t.request("PATCH", `/v1/tenants/${id}`, {
      body: { name: "Acme Trading GmbH", metadata: { plan: "enterprise", region: "eu" } },
    });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({
      name: "Acme Trading GmbH",
      metadata: { plan: "enterprise", region: "eu" },
    });
    expect(Date.parse(updated.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(created.body.updatedAt));

    const del = await t.request("DELETE", `/v1/tenants/${id}`);
    expect(del.status).toBe(204);
    expect(del.text).toBe("");
    const after = await t.request("GET", `/v1/tenants/${id}`);
    expect(after.status).toBe(200);
    expect(after.body.deletedAt).toEqual(expect.any(String));

    const list = await t.request("GET", "/v1/tenants?limit=100");
    expect(list.body.data.map((x: { id: string }) => x.id)).not.toContain(id);
    const withDeleted = await t.request("GET", "/v1/tenants?limit=100&includeDeleted=true");
    expect(withDeleted.body.data.map((x: { id: string }) => x.id)).toContain(id);

    expectProblem(await t.request("PATCH", `/v1/tenants/${id}`, { body: { name: "x" } }), 404, "not_found");
    expectProblem(await t.request("DELETE", `/v1/tenants/${id}`), 404, "not_found");
    expect(await auditActions(id)).toEqual(["tenant.create", "tenant.delete", "tenant.update"]);
    const [createRow] = await t.deps.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.targetId, id), eq(auditLog.action, "tenant.create")));
    expect(createRow).toMatchObject({ actorRole: "operator", tenantId: id, targetType: "tenant" });
    expect(createRow?.requestId).toMatch(/\S/);
  });

  test("names in any script, with emoji, round-trip", async () => {
    const name = "Ünïcødé 株式会社 🚀📈";
    const res = await t.request("POST", "/v1/tenants", { body: { name } });
    expect(res.status).toBe(201);
    expect((await t.request("GET", `/v1/tenants/${res.body.id}`)).body.name).toBe(name);
  });

  test("the list pages newest first with a cursor", async () => {
    const ids: string[] = [];
    for (const n of ["p1", "p2", "p3"]) {
      ids.push((await t.request("POST", "/v1/tenants", { body: { name: n } })).body.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = cursor ? `&cursor=${cursor}` : "";
      const page = await t.request("GET", `/v1/tenants?limit=2${q}`);
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.data.map((x: { id: string }) => x.id));
      cursor = page.body.nextCursor;
      expect(page.body.hasMore).toBe(cursor !== null);
      pages++;
    } while (cursor && pages < 50);
    expect(pages).toBeGreaterThanOrEqual(2);
    expect(seen).toEqual([...seen].sort().reverse());
    expect(new Set(seen).size).toBe(seen.length);
    // newest first: the three just created lead, in reverse order of creation
    expect(seen.slice(0, 3)).toEqual([...ids].reverse());
  });

  test("deleting a tenant stops its keys and its endpoints at once", async () => {
    const tenant = await createTenantWithKey(t.deps.db, ["endpoints:read"]);
    expect((await t.request("GET", "/v1/event-types", { token: tenant.token })).status).toBe(200);
    const gone = await startReceiver();
    const live = await startReceiver();
    const goneEp = await createEndpoint(t, { url: gone.url, tenantId: tenant.tenantId });
    const liveEp = await createEndpoint(t, { url: live.url });
    expect((await t.request("DELETE", `/v1/tenants/${tenant.tenantId}`)).status).toBe(204);

    expectProblem(await t.request("GET", "/v1/event-types", { token: tenant.token }), 401, "unauthorized");
    const pub = await t.request("POST", "/v1/events", {
      body: { type: "webhook.test", data: { endpointId: "ep_none", message: "1" } },
    });
    expect(pub.status).toBe(202);
    await live.waitFor(1);
    // The live tenant's delivery proves the fan-out ran; the deleted tenant got no delivery row.
    await waitUntil(async () => {
      const rows = await t.deps.db.select().from(deliveries).where(eq(deliveries.eventId, pub.body.id));
      return rows.some((r) => r.endpointId === liveEp.id && r.status === "succeeded");
    });
    const rows = await t.deps.db.select().from(deliveries).where(eq(deliveries.eventId, pub.body.id));
    expect(rows.map((r) => r.endpointId)).not.toContain(goneEp.id);
    expect(gone.requests).toHaveLength(0);
    await gone.close();
    await live.close();
  });
});

test("deleting a tenant cancels the deliveries still waiting to be retried", async () => {
  const failing = await startReceiver(() => ({ status: 500 }));
  const tenantId = (await t.request("POST", "/v1/tenants", { body: { name: "flaky" } })).body.id;
  const ep = await createEndpoint(t, { url: failing.url, tenantId, retrySchedule: [60_000] });
  const pub = await t.request("POST", "/v1/events", {
    body: { type: "webhook.test", data: { endpointId: ep.id, message: "retry me" }, tenantId },
  });
  await failing.waitFor(1);
  const pending = await waitUntil(async () => {
    const d = await deliveryOf(t, pub.body.id, ep.id);
    return d && d.status === "pending" && d.attemptCount === 1 ? d : null;
  });
  expect(pending.nextAttemptAt).not.toBeNull();
  expect((await t.request("DELETE", `/v1/tenants/${tenantId}`)).status).toBe(204);
  expect(await deliveryOf(t, pub.body.id, ep.id)).toMatchObject({ status: "cancelled", nextAttemptAt: null });
  const [audit] = await t.deps.db
    .select()
    .from(auditLog)
    .where(and(eq(auditLog.targetId, tenantId), eq(auditLog.action, "tenant.delete")));
  expect(audit?.details).toEqual({ cancelledDeliveries: 1, disabledEndpoints: 1 });
  await failing.close();
});

describe("errors", () => {
  const table: ErrorRow[] = [
    { name: "empty object", body: {}, status: 400, code: "validation_failed", paths: ["body.name"] },
    { name: "no body at all", raw: "", status: 400, code: "bad_request" },
    { name: "malformed JSON", raw: '{"name": "x"', status: 400, code: "bad_request" },
    { name: "JSON array", body: [], status: 400, code: "validation_failed", paths: ["body"] },
    {
      name: "name of wrong type",
      body: { name: 5 },
      status: 400,
      code: "validation_failed",
      paths: ["body.name"],
    },
    {
      name: "unknown field",
      body: { name: "x", plan: "pro" },
      status: 400,
      code: "validation_failed",
      paths: ["body"],
    },
    {
      name: "blank name",
      body: { name: "   " },
      status: 400,
      code: "validation_failed",
      paths: ["body.name"],
    },
    {
      name: "10,000-char name",
      body: { name: "n".repeat(10_000) },
      status: 400,
      code: "validation_failed",
      paths: ["body.name"],
    },
    {
      name: "control characters",
      body: { name: "a\u0000b" },
      status: 400,
      code: "validation_failed",
      paths: ["body.name"],
    },
    {
      name: "metadata value not a string",
      body: { name: "x", metadata: { plan: 1 } },
      status: 400,
      code: "validation_failed",
      paths: ["body.metadata.plan"],
    },
  ];
  test.each(table)("POST /v1/tenants: $name → $status", async (row) => {
    const res = await t.request(
      "POST",
      "/v1/tenants",
      row.raw !== undefined ? { rawBody: row.raw } : { body: row.body },
    );
    expect(res.status).toBe(row.status);
    expectProblem(res, row.status, row.code, row.paths);
    expect(res.body.instance).toBe("/v1/tenants");
    expect(res.body.requestId).toMatch(/\S/);
  });

  test("PATCH with nothing to change is a 400 naming the body", async () => {
    const { body } = await t.request("POST", "/v1/tenants", { body: { name: "patchy" } });
    expectProblem(
      await t.request("PATCH", `/v1/tenants/${body.id}`, { body: {} }),
      400,
      "validation_failed",
      ["body"],
    );
    expectProblem(
      await t.request("PATCH", `/v1/tenants/${body.id}`, { body: { name: "x".repeat(10_000) } }),
      400,
      "validation_failed",
      ["body.name"],
    );
  });

  test("unknown ids are 404 on get, update and delete", async () => {
    const id = unusedId("ten");
    for (const [m, body] of [["GET"], ["PATCH", { name: "x" }], ["DELETE"]] as const) {
      const res = await t.request(m, `/v1/tenants/${id}`, body ? { body } : {});
      expectProblem(res, 404, "not_found");
    }
  });
});

describe("security", () => {
  test("without credentials every tenants route is 401", async () => {
    for (const [m, p] of [
      ["POST", "/v1/tenants"],
      ["GET", "/v1/tenants"],
      ["GET", `/v1/tenants/${unusedId("ten")}`],
      ["PATCH", `/v1/tenants/${unusedId("ten")}`],
      ["DELETE", `/v1/tenants/${unusedId("ten")}`],
    ] as const) {
      const body = m === "GET" ? {} : { body: { name: "x" } };
      expectProblem(await t.request(m, p, { token: null, ...body }), 401, "unauthorized");
    }
  });

  test("tenant keys, and operator keys without tenants:admin, get 403 before any validation", async () => {
    const tenant = await createTenantWithKey(t.deps.db);
    const narrowOperator = await createKey(t.deps.db, { role: "operator", scopes: ["events:write"] });
    const victim = (await t.request("POST", "/v1/tenants", { body: { name: "victim" } })).body.id;
    for (const token of [tenant.token, narrowOperator.token]) {
      for (const [m, p] of [
        ["POST", "/v1/tenants"],
        ["GET", "/v1/tenants"],
        ["GET", `/v1/tenants/${tenant.tenantId}`],
        ["PATCH", `/v1/tenants/${victim}`],
        ["DELETE", `/v1/tenants/${victim}`],
      ] as const) {
        const res = await t.request(m, p, m === "GET" ? { token } : { token, body: { bogus: true } });
        expectProblem(res, 403, "forbidden");
      }
    }
    expect((await t.request("GET", `/v1/tenants/${victim}`)).body.deletedAt).toBeNull();
  });
});
