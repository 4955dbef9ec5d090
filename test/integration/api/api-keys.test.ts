import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { apiKeys, auditLog } from "../../../db/schema/index.ts";
import { sha256Hex } from "../../../src/lib/crypto.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { type ErrorRow, expectProblem } from "../../helpers/problems.ts";
import { createKey, createTenantWithKey, unknownApiKeyToken, unusedId } from "../../helpers/security.ts";

let t: TestApp;
// Listening on a real port: the IP allowlist needs the socket's address.
beforeAll(async () => {
  t = await startTestApp({ listen: true, workers: false });
});
afterAll(async () => {
  await t?.close();
});

async function newTenant(name = "tenant"): Promise<string> {
  const res = await t.request("POST", "/v1/tenants", { body: { name } });
  expect(res.status).toBe(201);
  return res.body.id;
}

async function createTenantKey(tenantId: string, scopes: string[], extra: Record<string, unknown> = {}) {
  const res = await t.request("POST", "/v1/api-keys", { body: { name: "k", tenantId, scopes, ...extra } });
  expect(res.status).toBe(201);
  return res.body as { id: string; token: string; prefix: string };
}

/** Moves the app's clock forward (authentication and rotation read `deps.now`). */
async function withClockAhead<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  const real = t.deps.now;
  t.deps.now = () => new Date(Date.now() + ms);
  try {
    return await fn();
  } finally {
    t.deps.now = real;
  }
}

describe("create, list, get", () => {
  test("an operator creates a tenant key; the token is shown once and works", async () => {
    const tenantId = await newTenant();
    const res = await t.request("POST", "/v1/api-keys", {
      body: { name: "partner publisher 🔑", tenantId, scopes: ["keys:read", "endpoints:read", "keys:read"] },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.body).toEqual({
      id: expect.stringMatching(/^key_/),
      name: "partner publisher 🔑",
      role: "tenant",
      tenantId,
      prefix: expect.stringMatching(/^sp_[a-z0-9]{16}$/),
      scopes: ["keys:read", "endpoints:read"],
      ipAllowlist: null,
      expiresAt: null,
      lastUsedAt: null,
      revokedAt: null,
      rotatedFromId: null,
      createdAt: expect.any(String),
      token: expect.stringMatching(/^sp_[a-z0-9]{16}_[A-Za-z0-9_-]{43}$/),
    });
    const token: string = res.body.token;
    expect(token.startsWith(`${res.body.prefix}_`)).toBe(true);

    const own = await t.request("GET", `/v1/api-keys/${res.body.id}`, { token });
    expect(own.status).toBe(200);
    const { token: _omit, ...withoutToken } = res.body;
    expect(own.body).toMatchObject({ ...withoutToken, lastUsedAt: expect.any(String) });
    const list = await t.request("GET", "/v1/api-keys", { token });
    expect(list.body.data.map((k: { id: string }) => k.id)).toEqual([res.body.id]);

    // Neither the token nor its hash is ever readable again, in the API or the audit trail.
    const hash = sha256Hex(token);
    const all = await t.request("GET", "/v1/api-keys?limit=100");
    for (const text of [own.text, list.text, all.text]) {
      expect(text).not.toContain(token);
      expect(text).not.toContain(hash);
      expect(text).not.toContain("secretHash");
    }
    const audit = await t.deps.db.select().from(auditLog).where(eq(auditLog.targetId, res.body.id));
    expect(audit.map((a) => a.action)).toEqual(["api_key.create"]);
    expect(audit[0]).toMatchObject({ actorRole: "operator", tenantId });
    expect(JSON.stringify(audit)).not.toContain(token.slice(20));
    expect(JSON.stringify(audit)).not.toContain(hash);
  });

  test("an operator creates an operator key with operator scopes, an expiry and an allowlist", async () => {
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const res = await t.request("POST", "/v1/api-keys", {
      body: { name: "ci", scopes: ["events:write"], expiresAt, ipAllowlist: ["127.0.0.1", "2001:db8::/32"] },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      role: "operator",
      tenantId: null,
      scopes: ["events:write"],
      expiresAt,
      ipAllowlist: ["127.0.0.1/32", "2001:db8::/32"],
    });
    // The allowlist admits this test's own address (127.0.0.1).
    const pub = await t.request("POST", "/v1/events", {
      token: res.body.token,
      body: { type: "webhook.test", data: { endpointId: "ep_none", message: "hello" } },
    });
    expect(pub.status).toBe(202);
  });

  test("a tenant with keys:write creates keys for itself, never wider than its own", async () => {
    const tenant = await createTenantWithKey(t.deps.db, ["keys:write", "keys:read", "endpoints:read"]);
    const other = await newTenant("other");
    const ok = await t.request("POST", "/v1/api-keys", {
      token: tenant.token,
      body: { name: "narrow", scopes: ["endpoints:read"] },
    });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ role: "tenant", tenantId: tenant.tenantId, scopes: ["endpoints:read"] });
    const explicit = await t.request("POST", "/v1/api-keys", {
      token: tenant.token,
      body: { name: "explicit", tenantId: tenant.tenantId, scopes: ["keys:read"] },
    });
    expect(explicit.status).toBe(201);

    const wider = await t.request("POST", "/v1/api-keys", {
      token: tenant.token,
      body: { name: "wider", scopes: ["endpoints:read", "endpoints:write", "events:write"] },
    });
    expectProblem(wider, 403, "forbidden", ["body.scopes.1", "body.scopes.2"]);
    // Another tenant's id reads exactly like an id that does not exist.
    const foreign = await t.request("POST", "/v1/api-keys", {
      token: tenant.token,
      body: { name: "x", tenantId: other, scopes: ["keys:read"] },
    });
    const missing = await t.request("POST", "/v1/api-keys", {
      token: tenant.token,
      body: { name: "x", tenantId: unusedId("ten"), scopes: ["keys:read"] },
    });
    // 404, as on POST /v1/endpoints: a tenant cannot even learn that the other tenant exists.
    expectProblem(foreign, 404, "not_found");
    expectProblem(missing, 404, "not_found");
    const same = (b: { detail: string }) => ({
      ...b,
      detail: b.detail.replace(/ten_\w+/, "ten_…"),
      requestId: null,
    });
    expect(same(foreign.body)).toEqual(same(missing.body));
  });

  test("an operator cannot give a tenant key operator scopes, nor a key to a deleted tenant", async () => {
    const tenantId = await newTenant();
    const res = await t.request("POST", "/v1/api-keys", {
      body: { name: "x", tenantId, scopes: ["endpoints:read", "tenants:admin"] },
    });
    expectProblem(res, 422, "unprocessable", ["body.scopes.1"]);
    expect((await t.request("DELETE", `/v1/tenants/${tenantId}`)).status).toBe(204);
    expectProblem(
      await t.request("POST", "/v1/api-keys", { body: { name: "x", tenantId, scopes: ["keys:read"] } }),
      422,
      "unprocessable",
      ["body.tenantId"],
    );
  });

  test("the list pages newest first and filters by tenant for the operator", async () => {
    const tenantId = await newTenant();
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await createTenantKey(tenantId, ["keys:read"])).id);
    const p1 = await t.request("GET", `/v1/api-keys?tenantId=${tenantId}&limit=2`);
    expect(p1.body).toMatchObject({ hasMore: true, nextCursor: ids[1] });
    expect(p1.body.data.map((k: { id: string }) => k.id)).toEqual([ids[2], ids[1]]);
    const p2 = await t.request(
      "GET",
      `/v1/api-keys?tenantId=${tenantId}&limit=2&cursor=${p1.body.nextCursor}`,
    );
    expect(p2.body).toMatchObject({ hasMore: false, nextCursor: null });
    expect(p2.body.data.map((k: { id: string }) => k.id)).toEqual([ids[0]]);
  });
});

describe("revoke and rotate", () => {
  test("revocation is immediate and idempotent, and audited once", async () => {
    const tenantId = await newTenant();
    const key = await createTenantKey(tenantId, ["keys:read"]);
    expect((await t.request("GET", "/v1/api-keys", { token: key.token })).status).toBe(200);
    const res = await t.request("POST", `/v1/api-keys/${key.id}/revoke`);
    expect(res.status).toBe(200);
    expect(res.body.revokedAt).toEqual(expect.any(String));
    expectProblem(await t.request("GET", "/v1/api-keys", { token: key.token }), 401, "unauthorized");
    const again = await t.request("POST", `/v1/api-keys/${key.id}/revoke`);
    expect(again.body.revokedAt).toBe(res.body.revokedAt);
    const audit = await t.deps.db.select().from(auditLog).where(eq(auditLog.targetId, key.id));
    expect(audit.map((a) => a.action).sort()).toEqual(["api_key.create", "api_key.revoke"]);
    expectProblem(await t.request("POST", `/v1/api-keys/${key.id}/rotate`, { body: {} }), 409, "conflict");
  });

  test("rotation: a new token at once, the old one valid for the grace period, then refused", async () => {
    const tenantId = await newTenant();
    const old = await createTenantKey(tenantId, ["keys:read", "keys:write"], {
      ipAllowlist: ["127.0.0.0/8"],
    });
    const before = Date.now();
    const res = await t.request("POST", `/v1/api-keys/${old.id}/rotate`, {
      body: { gracePeriodSeconds: 60 },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      role: "tenant",
      tenantId,
      scopes: ["keys:read", "keys:write"],
      ipAllowlist: ["127.0.0.0/8"],
      rotatedFromId: old.id,
      token: expect.stringMatching(/^sp_/),
      previous: { id: old.id, revokedAt: null },
    });
    expect(res.body.id).not.toBe(old.id);
    const oldExpiry = Date.parse(res.body.previous.expiresAt);
    expect(oldExpiry).toBeGreaterThanOrEqual(before + 59_000);
    expect(oldExpiry).toBeLessThanOrEqual(Date.now() + 61_000);

    // During the grace period both work.
    expect((await t.request("GET", "/v1/api-keys", { token: old.token })).status).toBe(200);
    expect((await t.request("GET", "/v1/api-keys", { token: res.body.token })).status).toBe(200);
    // After it, only the new one.
    await withClockAhead(61_000, async () => {
      expectProblem(await t.request("GET", "/v1/api-keys", { token: old.token }), 401, "unauthorized");
      expect((await t.request("GET", "/v1/api-keys", { token: res.body.token })).status).toBe(200);
    });
    const audit = await t.deps.db.select().from(auditLog).where(eq(auditLog.targetId, old.id));
    const rotateRow = audit.find((a) => a.action === "api_key.rotate");
    expect(rotateRow?.details).toMatchObject({ newKeyId: res.body.id, gracePeriodSeconds: 60 });
    expect(JSON.stringify(audit)).not.toContain(res.body.token);
  });

  test("gracePeriodSeconds 0 stops the old token at once; the default is 24 h", async () => {
    const tenantId = await newTenant();
    const a = await createTenantKey(tenantId, ["keys:read"]);
    const r0 = await t.request("POST", `/v1/api-keys/${a.id}/rotate`, { body: { gracePeriodSeconds: 0 } });
    expect(r0.status).toBe(200);
    expectProblem(await t.request("GET", "/v1/api-keys", { token: a.token }), 401, "unauthorized");
    expect((await t.request("GET", "/v1/api-keys", { token: r0.body.token })).status).toBe(200);

    const b = await createTenantKey(tenantId, ["keys:read"]);
    const before = Date.now();
    const rd = await t.request("POST", `/v1/api-keys/${b.id}/rotate`); // no body at all
    expect(rd.status).toBe(200);
    expect(Date.parse(rd.body.previous.expiresAt)).toBeGreaterThanOrEqual(before + 86_400_000 - 1000);
  });

  test("a tenant cannot rotate a sibling key with scopes it lacks (that would hand it those scopes)", async () => {
    const tenant = await createTenantWithKey(t.deps.db, ["keys:write", "keys:read"]);
    const strong = await createKey(t.deps.db, {
      role: "tenant",
      tenantId: tenant.tenantId,
      scopes: ["endpoints:write"],
    });
    expectProblem(
      await t.request("POST", `/v1/api-keys/${strong.id}/rotate`, { token: tenant.token, body: {} }),
      403,
      "forbidden",
    );
    // Revoking it is fine: it only takes power away.
    expect(
      (await t.request("POST", `/v1/api-keys/${strong.id}/revoke`, { token: tenant.token })).status,
    ).toBe(200);
  });
});

describe("errors", () => {
  const table: ErrorRow[] = [
    {
      name: "empty object",
      body: {},
      status: 400,
      code: "validation_failed",
      paths: ["body.name", "body.scopes"],
    },
    { name: "malformed JSON", raw: "{", status: 400, code: "bad_request" },
    {
      name: "scopes not an array",
      body: { name: "x", scopes: "all" },
      status: 400,
      code: "validation_failed",
      paths: ["body.scopes"],
    },
    {
      name: "no scopes",
      body: { name: "x", scopes: [] },
      status: 400,
      code: "validation_failed",
      paths: ["body.scopes"],
    },
    {
      name: "unknown scope",
      body: { name: "x", scopes: ["admin:all"] },
      status: 400,
      code: "validation_failed",
      paths: ["body.scopes.0"],
    },
    {
      name: "unknown field",
      body: { name: "x", scopes: ["keys:read"], role: "operator" },
      status: 400,
      code: "validation_failed",
      paths: ["body"],
    },
    {
      name: "10,000-char name",
      body: { name: "k".repeat(10_000), scopes: ["keys:read"] },
      status: 400,
      code: "validation_failed",
      paths: ["body.name"],
    },
    {
      name: "bad CIDR",
      body: { name: "x", scopes: ["keys:read"], ipAllowlist: ["10.0.0.0/8", "300.1.1.1/8"] },
      status: 400,
      code: "validation_failed",
      paths: ["body.ipAllowlist.1"],
    },
    {
      name: "empty allowlist",
      body: { name: "x", scopes: ["keys:read"], ipAllowlist: [] },
      status: 400,
      code: "validation_failed",
      paths: ["body.ipAllowlist"],
    },
    {
      name: "expiry not a date",
      body: { name: "x", scopes: ["keys:read"], expiresAt: "tomorrow" },
      status: 400,
      code: "validation_failed",
      paths: ["body.expiresAt"],
    },
    {
      name: "expiry in the past",
      body: { name: "x", scopes: ["keys:read"], expiresAt: "2020-01-01T00:00:00Z" },
      status: 400,
      code: "validation_failed",
      paths: ["body.expiresAt"],
    },
    {
      name: "unknown tenant",
      body: { name: "x", scopes: ["keys:read"], tenantId: "ten_nope" },
      status: 422,
      code: "unprocessable",
      paths: ["body.tenantId"],
    },
  ];
  test.each(table)("POST /v1/api-keys: $name → $status", async (row) => {
    const res = await t.request(
      "POST",
      "/v1/api-keys",
      row.raw !== undefined ? { rawBody: row.raw } : { body: row.body },
    );
    expectProblem(res, row.status, row.code, row.paths);
  });

  test.each([
    { body: { gracePeriodSeconds: 604_801 }, paths: ["body.gracePeriodSeconds"] },
    { body: { gracePeriodSeconds: -1 }, paths: ["body.gracePeriodSeconds"] },
    { body: { gracePeriodSeconds: "10" }, paths: ["body.gracePeriodSeconds"] },
    { body: { gracePeriodSeconds: 1.5 }, paths: ["body.gracePeriodSeconds"] },
    { body: { grace: 10 }, paths: ["body"] },
  ])("rotate with $body → 400", async ({ body, paths }) => {
    const key = await createKey(t.deps.db, { role: "operator", scopes: ["keys:read"] });
    expectProblem(
      await t.request("POST", `/v1/api-keys/${key.id}/rotate`, { body }),
      400,
      "validation_failed",
      paths,
    );
  });

  test("unknown ids are 404", async () => {
    const id = unusedId("key");
    expectProblem(await t.request("GET", `/v1/api-keys/${id}`), 404, "not_found");
    expectProblem(await t.request("POST", `/v1/api-keys/${id}/revoke`), 404, "not_found");
    expectProblem(await t.request("POST", `/v1/api-keys/${id}/rotate`, { body: {} }), 404, "not_found");
  });
});

describe("security", () => {
  test("tenant B cannot see or touch tenant A's keys, nor operator keys: 404 as if absent", async () => {
    const a = await createTenantWithKey(t.deps.db, ["keys:read", "keys:write"]);
    const b = await createTenantWithKey(t.deps.db, ["keys:read", "keys:write"]);
    const opKey = await createKey(t.deps.db, { role: "operator", scopes: ["keys:read"] });
    for (const id of [a.id, opKey.id]) {
      expectProblem(await t.request("GET", `/v1/api-keys/${id}`, { token: b.token }), 404, "not_found");
      expectProblem(
        await t.request("POST", `/v1/api-keys/${id}/revoke`, { token: b.token }),
        404,
        "not_found",
      );
      expectProblem(
        await t.request("POST", `/v1/api-keys/${id}/rotate`, { token: b.token, body: {} }),
        404,
        "not_found",
      );
    }
    const listB = await t.request("GET", `/v1/api-keys?limit=100&tenantId=${a.tenantId}`, { token: b.token });
    expect(listB.body.data).toEqual([]);
    const [rowA] = await t.deps.db.select().from(apiKeys).where(eq(apiKeys.id, a.id));
    expect(rowA?.revokedAt).toBeNull();
    expect(rowA?.expiresAt).toBeNull();
  });

  test("scopes: keys:read to read, keys:write to change; 403 before validation", async () => {
    const reader = await createTenantWithKey(t.deps.db, ["keys:read"]);
    const writer = await createTenantWithKey(t.deps.db, ["keys:write"]);
    expectProblem(
      await t.request("POST", "/v1/api-keys", { token: reader.token, body: {} }),
      403,
      "forbidden",
    );
    expectProblem(
      await t.request("POST", `/v1/api-keys/${reader.id}/revoke`, { token: reader.token }),
      403,
      "forbidden",
    );
    expectProblem(
      await t.request("POST", `/v1/api-keys/${reader.id}/rotate`, { token: reader.token, body: {} }),
      403,
      "forbidden",
    );
    expectProblem(await t.request("GET", "/v1/api-keys", { token: writer.token }), 403, "forbidden");
    expectProblem(
      await t.request("GET", `/v1/api-keys/${writer.id}`, { token: writer.token }),
      403,
      "forbidden",
    );
  });

  test("no token, unknown token, expired key and IP outside the allowlist are refused", async () => {
    expectProblem(await t.request("GET", "/v1/api-keys", { token: null }), 401, "unauthorized");
    expectProblem(
      await t.request("GET", "/v1/api-keys", { token: unknownApiKeyToken() }),
      401,
      "unauthorized",
    );
    const tenantId = await newTenant();
    const soon = await createTenantKey(tenantId, ["keys:read"], {
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
    });
    expect((await t.request("GET", "/v1/api-keys", { token: soon.token })).status).toBe(200);
    await withClockAhead(61_000, async () => {
      expectProblem(await t.request("GET", "/v1/api-keys", { token: soon.token }), 401, "unauthorized");
    });
    const fenced = await createTenantKey(tenantId, ["keys:read"], {
      ipAllowlist: ["203.0.113.0/24", "2001:db8::/32"],
    });
    expectProblem(await t.request("GET", "/v1/api-keys", { token: fenced.token }), 403, "forbidden");
  });
});
