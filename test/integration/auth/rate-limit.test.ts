import { afterAll, beforeAll, expect, test } from "vitest";
import { consumeBuckets } from "../../../src/auth/rate-limit.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.ts";
import { createKey, createTenant } from "../../helpers/security.ts";

// Two real API processes' worth of app (each its own pool, server and port) on one database, with
// one shared frozen clock so the expected counts are exact rather than timing-dependent.
let db: TestDatabase;
let a: TestApp;
let b: TestApp;
let clock = Date.parse("2026-12-03T10:00:00Z");
const now = () => new Date(clock);

beforeAll(async () => {
  db = await createTestDatabase();
  const env = { RATE_LIMIT_PER_SECOND: "5", RATE_LIMIT_TENANT_PER_SECOND: "8" };
  const opts = { database: db, listen: true, workers: false, env, build: { now } } as const;
  a = await startTestApp(opts);
  b = await startTestApp(opts);
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await db?.drop();
});

async function burst(token: string, n: number, path = "/v1/audit-log?limit=1") {
  const calls = Array.from({ length: n }, (_, i) => (i % 2 === 0 ? a : b).request("GET", path, { token }));
  return Promise.all(calls);
}

test("the per-key limit (burst 2x) holds across two API processes, with headers and a 429 problem", async () => {
  const tenantId = await createTenant(a.deps.db);
  const key = await createKey(a.deps.db, { tenantId, scopes: ["audit:read"] });
  const res = await burst(key.token, 30);
  const ok = res.filter((r) => r.status === 200);
  const limited = res.filter((r) => r.status === 429);
  expect(ok).toHaveLength(10); // 5/s sustained, burst 10: both processes together, not 10 each
  expect(limited).toHaveLength(20);
  expect(new Set(ok.map((r) => r.headers.get("ratelimit-limit")))).toEqual(new Set(["10"]));
  expect(ok.map((r) => Number(r.headers.get("ratelimit-remaining"))).sort((x, y) => x - y)).toEqual([
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
  ]);
  // Requests run concurrently, so which 429 came first is not fixed; the key's bucket ran out
  // first (10 < the tenant's 16), so some 429 must name the key. Later ones may name the tenant
  // too: a refused request still spends a unit of the other bucket.
  const r429 = limited.find((r) => String(r.body?.detail).includes("this key"));
  expect(r429?.headers.get("content-type")).toBe("application/problem+json");
  expect(r429?.body).toMatchObject({
    type: "/problems/rate_limited",
    status: 429,
    title: "Too many requests",
    detail: "too many requests for this key; retry in 1 s",
  });
  expect(r429?.headers.get("retry-after")).toBe("1");
  expect(r429?.headers.get("ratelimit-remaining")).toBe("0");
  expect(r429?.headers.get("ratelimit-reset")).toBe("2");

  // 400 ms later, two requests' worth (5/s) have dripped back in, shared by both processes.
  clock += 400;
  const later = await burst(key.token, 6);
  expect(later.filter((r) => r.status === 200)).toHaveLength(2);
});

test("the per-tenant limit caps all of a tenant's keys together; operators have no tenant bucket", async () => {
  const tenantId = await createTenant(a.deps.db);
  const k1 = await createKey(a.deps.db, { tenantId, scopes: ["audit:read"] });
  const k2 = await createKey(a.deps.db, { tenantId, scopes: ["audit:read"] });
  const res = await Promise.all([burst(k1.token, 10), burst(k2.token, 10)]);
  const all = res.flat();
  // Each key alone may send 10; the tenant (8/s, burst 16) allows 16 of the 20.
  expect(all.filter((r) => r.status === 200)).toHaveLength(16);
  const refused = all.filter((r) => r.status === 429);
  expect(refused).toHaveLength(4);
  expect(refused[0]?.body.detail).toBe("too many requests for this tenant; retry in 1 s");
});

test("error responses on /v1 carry the rate-limit headers too", async () => {
  const op = await createKey(a.deps.db, { role: "operator", scopes: ["tenants:admin"] });
  const res = await a.request("GET", "/v1/tenants/ten_01JF3Z8Q4K2M6N8P0R2T4V6X8Z", { token: op.token });
  expect(res.status).toBe(404);
  expect(res.headers.get("ratelimit-limit")).toBe("10");
  expect(res.headers.get("ratelimit-remaining")).toBe("9");
});

test("overhead: one upsert per request (measured, printed)", async () => {
  const n = 500;
  const t0 = performance.now();
  for (let i = 0; i < n; i++)
    await consumeBuckets(
      a.deps.sql,
      [
        { bucket: "bench:key", perSecond: 1e6 },
        { bucket: "bench:tenant", perSecond: 1e6 },
      ],
      Date.now(),
    );
  const perCall = (performance.now() - t0) / n;
  console.log(`rate limit: ${perCall.toFixed(3)} ms per request (2 buckets, ${n} sequential upserts)`);
  expect(perCall).toBeGreaterThan(0);
});
