import { eq } from "drizzle-orm";
import { afterAll, beforeAll, expect, test } from "vitest";
import { apiKeys, eventTypes } from "../../../db/schema/index.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { waitUntil } from "../../helpers/fixtures.ts";
import { createKey, createTenantWithKey } from "../../helpers/security.ts";

/**
 * Two API processes on one database (each its own pool, LISTEN connection and caches), as in a
 * deployment with several API replicas. What one changes, the other must stop serving from its
 * cache long before the 10 s TTL.
 */
let a: TestApp;
let b: TestApp;
beforeAll(async () => {
  a = await startTestApp({ workers: false });
  b = await startTestApp({ workers: false, database: a.db });
});
afterAll(async () => {
  await b?.close();
  await a?.close();
});

const audit = (t: TestApp, token: string) => t.request("GET", "/v1/audit-log", { token });
/** Until `t` answers `status` (the NOTIFY has arrived), for at most 2 s; returns how long it took. */
async function until(t: TestApp, token: string, status: number): Promise<number> {
  const started = Date.now();
  await waitUntil(async () => (await audit(t, token)).status === status, 2_000, `HTTP ${status}`);
  return Date.now() - started;
}

test("a key revoked through one process stops working there at once and in the other within the NOTIFY", async () => {
  const owner = await createTenantWithKey(a.deps.db, ["audit:read"]);
  // Both processes have the key cached.
  expect((await audit(a, owner.token)).status).toBe(200);
  expect((await audit(b, owner.token)).status).toBe(200);
  expect(b.deps.caches.keys.size).toBeGreaterThan(0);
  const revoked = await a.request("POST", `/v1/api-keys/${owner.id}/revoke`, { token: a.operatorToken });
  expect(revoked.status).toBe(200);
  // The revoking process forgot its copy at commit: no window at all.
  expect((await audit(a, owner.token)).status).toBe(401);
  expect(await until(b, owner.token, 401)).toBeLessThan(2_000);
});

test("changes made with plain SQL reach every process: revocation, tenant deletion, allowlist", async () => {
  for (const change of ["revoke", "tenant", "allowlist"] as const) {
    const owner = await createTenantWithKey(a.deps.db, ["audit:read"]);
    for (const t of [a, b]) expect((await audit(t, owner.token)).status).toBe(200);
    if (change === "revoke") await a.deps.sql`update api_keys set revoked_at = now() where id = ${owner.id}`;
    if (change === "tenant")
      await a.deps.sql`update tenants set deleted_at = now() where id = ${owner.tenantId ?? ""}`;
    if (change === "allowlist")
      await a.deps.db
        .update(apiKeys)
        .set({ ipAllowlist: ["10.0.0.0/8"] })
        .where(eq(apiKeys.id, owner.id));
    const expected = change === "allowlist" ? 403 : 401;
    for (const t of [a, b]) expect(await until(t, owner.token, expected)).toBeLessThan(2_000);
  }
});

test("a used key stays cached: last_used_at writes send no invalidation, other column changes do", async () => {
  const key = await createKey(a.deps.db, { scopes: ["audit:read"] });
  const cacheKey = `prefix:${key.token.split("_")[1]}`;
  expect((await audit(b, key.token)).status).toBe(200);
  expect(b.deps.caches.keys.get(cacheKey)).toBeDefined();
  await a.deps.sql`update api_keys set last_used_at = now() - interval '1 hour' where id = ${key.id}`;
  // Long enough for a NOTIFY to arrive, were one sent.
  await new Promise((r) => setTimeout(r, 300));
  expect(b.deps.caches.keys.get(cacheKey)).toBeDefined();
  await a.deps.sql`update api_keys set name = 'renamed' where id = ${key.id}`;
  await waitUntil(async () => b.deps.caches.keys.get(cacheKey) === undefined, 2_000, "the entry to go");
});

test("an event type deprecated with plain SQL is refused by every process within the NOTIFY", async () => {
  const name = `cache.test${Date.now()}`;
  const created = await a.request("POST", "/v1/event-types", {
    token: a.operatorToken,
    body: { name, description: "cache test" },
  });
  expect(created.status).toBe(201);
  const publish = (t: TestApp) =>
    t.request("POST", "/v1/events", { token: t.operatorToken, body: { type: name, data: {} } });
  for (const t of [a, b]) expect((await publish(t)).status).toBe(202);
  await a.deps.db.update(eventTypes).set({ deprecatedAt: new Date() }).where(eq(eventTypes.name, name));
  for (const t of [a, b])
    await waitUntil(async () => (await publish(t)).status === 422, 2_000, "the deprecation to be seen");
});

test("REFERENCE_CACHE_TTL=0 reads the rows on every request", async () => {
  const c = await startTestApp({ workers: false, database: a.db, env: { REFERENCE_CACHE_TTL: "0" } });
  try {
    const key = await createKey(a.deps.db, { scopes: ["audit:read"] });
    expect((await c.request("GET", "/v1/audit-log", { token: key.token })).status).toBe(200);
    expect(c.deps.caches.keys.size).toBe(0);
    await c.deps.sql`update api_keys set revoked_at = now() where id = ${key.id}`;
    expect((await c.request("GET", "/v1/audit-log", { token: key.token })).status).toBe(401);
  } finally {
    await c.close();
  }
});

// Last in this file: it empties api_keys for both apps.
test("TRUNCATE (which skips row triggers) clears every process's cache through its own trigger", async () => {
  const key = await createKey(a.deps.db, { scopes: ["audit:read"] });
  for (const t of [a, b]) expect((await audit(t, key.token)).status).toBe(200);
  await a.deps.sql`truncate api_keys cascade`;
  for (const t of [a, b]) expect(await until(t, key.token, 401)).toBeLessThan(2_000);
});
