import { afterAll, beforeAll, expect, test } from "vitest";
import type { CachedCandidates } from "../../../src/delivery/fanout.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { createEndpoint, createTenant } from "../../helpers/fixtures.ts";

// A publish caches its tenant's candidate endpoints and, on the next publish, sends the deliveries
// with the events, checked against the tenant's endpoints version in the same transaction. These
// tests change endpoints behind the cache's back (plain SQL, as any tool could) and publish at once.

let t: TestApp;
const TYPE = "test.cache";
beforeAll(async () => {
  t = await startTestApp({ workers: false });
  const res = await t.request("POST", "/v1/event-types", { body: { name: TYPE, description: "any" } });
  expect(res.status).toBe(201);
});
afterAll(async () => {
  await t?.close();
});

const url = "http://127.0.0.1:9/hook";

async function publish(tenantId: string, type = TYPE): Promise<string> {
  const res = await t.request("POST", "/v1/events", { body: { type, data: { n: 1 }, tenantId } });
  expect(res.status, res.text).toBe(202);
  return res.body.id as string;
}

async function endpointsOf(eventId: string): Promise<string[]> {
  const rows = await t.deps.sql<{ endpoint_id: string }[]>`
    select endpoint_id from deliveries where event_id = ${eventId} order by endpoint_id`;
  return rows.map((r) => r.endpoint_id);
}

async function version(tenantId: string): Promise<number | null> {
  const [row] = await t.deps.sql<{ version: string }[]>`
    select version from endpoint_versions where tenant_id = ${tenantId}`;
  return row ? Number(row.version) : null;
}

const cached = (tenantId: string) => t.deps.caches.candidates.get(tenantId) as CachedCandidates | undefined;

test("every publish fans out to the endpoints as they are at that moment, however they changed", async () => {
  const a = await createTenant(t, "cache-a");
  const e1 = await createEndpoint(t, { url, tenantId: a });
  const sorted = (...ids: string[]) => [...ids].sort();

  expect(await endpointsOf(await publish(a))).toEqual([e1.id]);
  expect(cached(a)).toMatchObject({ version: await version(a), candidates: [{ id: e1.id }] });
  // Unchanged: served from the cache (the entry is kept as it was).
  const entry = cached(a);
  expect(await endpointsOf(await publish(a))).toEqual([e1.id]);
  expect(cached(a)).toBe(entry);

  const e2 = await createEndpoint(t, { url, tenantId: a });
  expect(await endpointsOf(await publish(a))).toEqual(sorted(e1.id, e2.id));

  await t.deps.sql`update endpoints set event_types = ${["other.*"]} where id = ${e1.id}`;
  expect(await endpointsOf(await publish(a))).toEqual([e2.id]);

  await t.deps.sql`update endpoints set disabled = true where id = ${e2.id}`;
  expect(await endpointsOf(await publish(a))).toEqual([]);

  await t.deps
    .sql`update endpoints set disabled = false, event_types = null where id in ${t.deps.sql([e1.id, e2.id])}`;
  expect(await endpointsOf(await publish(a))).toEqual(sorted(e1.id, e2.id));

  await t.deps.sql`update endpoints set symbols = ${["ETH"]} where id = ${e1.id}`;
  const withSymbol = await t.request("POST", "/v1/events", {
    body: { type: TYPE, data: { n: 1 }, tenantId: a, symbol: "BTC" },
  });
  expect(await endpointsOf(withSymbol.body.id)).toEqual([e2.id]);

  await t.deps.sql`update endpoints set deleted_at = now() where id = ${e2.id}`;
  await t.deps.sql`update endpoints set symbols = null where id = ${e1.id}`;
  expect(await endpointsOf(await publish(a))).toEqual([e1.id]);

  await t.deps.sql`update endpoints set max_concurrency = 3 where id = ${e1.id}`;
  const ev = await publish(a);
  const [job] = await t.deps.sql<{ group_tier: string | null }[]>`
    select j.group_tier from pgboss.job j join deliveries d on d.id = j.data->>'deliveryId'
    where d.event_id = ${ev}`;
  expect(job?.group_tier).toBe("c3");

  // Each publish stored its event once (a stale cache rolls back and redoes the whole publish).
  const [counts] = await t.deps.sql<{ events: number; audits: number }[]>`
    select (select count(*)::int from events where tenant_id = ${a}) as events,
           (select count(*)::int from audit_log where action = 'event.publish' and tenant_id = ${a}) as audits`;
  expect(counts).toEqual({ events: 9, audits: 9 });
});

test("a tenant's first endpoint is seen by the next publish; another tenant's entry is untouched", async () => {
  const b = await createTenant(t, "cache-b");
  const c = await createTenant(t, "cache-c");
  await createEndpoint(t, { url, tenantId: c });
  expect(await endpointsOf(await publish(b))).toEqual([]);
  expect(cached(b)).toEqual({ version: null, candidates: [] });
  await publish(c);
  const entryC = cached(c);

  const eb = await createEndpoint(t, { url, tenantId: b });
  expect(await endpointsOf(await publish(b))).toEqual([eb.id]);
  expect(cached(c)).toBe(entryC);
});

test("the version moves with what fan-out reads, not with delivery bookkeeping or cosmetic fields", async () => {
  const d = await createTenant(t, "cache-d");
  const e = await createEndpoint(t, { url, tenantId: d });
  const v0 = await version(d);
  expect(v0).not.toBeNull();

  await t.deps.sql`update endpoints set failing_since = now(), url = 'http://127.0.0.1:9/other',
    description = 'x', headers = '{"x-a":"b"}', rate_limit_per_second = 5 where id = ${e.id}`;
  await t.deps.sql`update endpoints set disabled = false where id = ${e.id}`; // the same value
  expect(await version(d)).toBe(v0);

  await t.deps.sql`update endpoints set symbols = ${["BTC"]} where id = ${e.id}`;
  const v1 = await version(d);
  expect(v1).toBeGreaterThan(v0 as number);

  // Moving an endpoint to another tenant moves both tenants' versions.
  const other = await createTenant(t, "cache-d2");
  await createEndpoint(t, { url, tenantId: other });
  const vOther = await version(other);
  await t.deps.sql`update endpoints set tenant_id = ${other} where id = ${e.id}`;
  expect(await version(d)).toBeGreaterThan(v1 as number);
  expect(await version(other)).toBeGreaterThan(vOther as number);

  // A row deleted outright (by hand: the API only soft-deletes) moves it too.
  const gone = await createEndpoint(t, { url, tenantId: d });
  const v2 = await version(d);
  await t.deps.sql`delete from endpoint_secrets where endpoint_id = ${gone.id}`;
  await t.deps.sql`delete from endpoints where id = ${gone.id}`;
  expect(await version(d)).toBeGreaterThan(v2 as number);
});

test("a rolled-back endpoint change leaves a version that is never reused", async () => {
  const f = await createTenant(t, "cache-f");
  const e = await createEndpoint(t, { url, tenantId: f });
  await publish(f);
  const before = await version(f);
  await t.deps.sql
    .begin(async (sql) => {
      await sql`update endpoints set disabled = true where id = ${e.id}`;
      throw new Error("roll back");
    })
    .catch(() => {});
  expect(await version(f)).toBe(before);
  expect(await endpointsOf(await publish(f))).toEqual([e.id]);
});

test("TRUNCATE (no row triggers) moves every tenant's version", async () => {
  const g = await createTenant(t, "cache-g");
  await createEndpoint(t, { url, tenantId: g });
  await publish(g);
  const before = await version(g);
  await t.deps.sql`truncate endpoints cascade`;
  expect(await version(g)).toBeGreaterThan(before as number);
  expect(await endpointsOf(await publish(g))).toEqual([]);
});

test("a cached endpoint deleted outright: the failing delivery insert is the stale entry's doing, the publish is redone", async () => {
  const OTHER = "test.other_cache";
  expect(
    (await t.request("POST", "/v1/event-types", { body: { name: OTHER, description: "any" } })).status,
  ).toBe(201);
  const h = await createTenant(t, "cache-h");
  const kept = await createEndpoint(t, { url, tenantId: h });
  const gone = await createEndpoint(t, { url, tenantId: h, eventTypes: [OTHER] });
  // Cached with both endpoints; `gone` gets no delivery of this type, so it can be deleted outright.
  expect(await endpointsOf(await publish(h))).toEqual([kept.id]);
  expect(
    cached(h)
      ?.candidates?.map((c) => c.id)
      .sort(),
  ).toEqual([kept.id, gone.id].sort());
  await t.deps.sql`delete from endpoint_secrets where endpoint_id = ${gone.id}`;
  await t.deps.sql`delete from endpoints where id = ${gone.id}`;
  // From the cache, this publish would insert a delivery for `gone` (a foreign-key violation).
  expect(await endpointsOf(await publish(h, OTHER))).toEqual([kept.id]);
  expect(await endpointsOf(await publish(h))).toEqual([kept.id]);
});

test("a tenant deleted and restored by hand, and an endpoint moved between tenants, reach the next publish", async () => {
  const i = await createTenant(t, "cache-i");
  const j = await createTenant(t, "cache-j");
  const ei = await createEndpoint(t, { url, tenantId: i });
  expect(await endpointsOf(await publish(i))).toEqual([ei.id]);

  await t.deps.sql`update tenants set deleted_at = now() where id = ${i}`;
  const refused = await t.request("POST", "/v1/events", {
    body: { type: TYPE, data: { n: 1 }, tenantId: i },
  });
  expect(refused.status).toBe(422);
  await t.deps.sql`update tenants set deleted_at = null where id = ${i}`;
  expect(await endpointsOf(await publish(i))).toEqual([ei.id]);

  expect(await endpointsOf(await publish(j))).toEqual([]);
  await t.deps.sql`update endpoints set tenant_id = ${j} where id = ${ei.id}`;
  expect(await endpointsOf(await publish(i))).toEqual([]);
  expect(await endpointsOf(await publish(j))).toEqual([ei.id]);
});
