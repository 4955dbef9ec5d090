import { afterAll, beforeAll, expect, test } from "vitest";
import { LEASE_MS, leaseSize } from "../../../src/auth/rate-limit.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.ts";
import { createKey, createTenant } from "../../helpers/security.ts";

// At high limits each API process takes units from the shared bucket several at a time
// (BucketLeases): two app instances with their own pools and leases (as two processes), one
// database, one frozen clock. The shared budget still holds exactly; Postgres is asked far less.

let db: TestDatabase;
let a: TestApp;
let b: TestApp;
let clock = Date.parse("2026-12-04T10:00:00Z");
const now = () => new Date(clock);
const PER_KEY = 500; // burst 1,000; leases of 10

beforeAll(async () => {
  db = await createTestDatabase();
  const env = { RATE_LIMIT_PER_SECOND: String(PER_KEY), RATE_LIMIT_TENANT_PER_SECOND: "100000" };
  const opts = { database: db, listen: true, workers: false, env, build: { now } } as const;
  a = await startTestApp(opts);
  b = await startTestApp(opts);
  // Every write to a bucket row, to count how often Postgres was asked.
  await a.deps.sql.unsafe(`
    create table test_bucket_writes (bucket text not null, granted int not null);
    create function test_log_bucket_write() returns trigger language plpgsql as $$
    begin insert into test_bucket_writes values (new.bucket, new.granted); return new; end $$;
    create trigger test_log_bucket_write after insert or update on rate_limit_buckets
      for each row execute function test_log_bucket_write();`);
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await db?.drop();
});

const writes = async (bucket: string) =>
  (
    await a.deps.sql<
      { n: number }[]
    >`select count(*)::int as n from test_bucket_writes where bucket = ${bucket}`
  )[0]?.n ?? 0;

async function requests(token: string, n: number) {
  const out = [];
  // 50 at a time, alternating between the two processes.
  for (let i = 0; i < n; i += 50)
    out.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(50, n - i) }, (_, j) =>
          ((i + j) % 2 === 0 ? a : b).request("GET", "/v1/audit-log?limit=1", { token }),
        ),
      )),
    );
  return out;
}

test("lease size: 20 ms of the rate, 1 below 100/s", () => {
  expect([1, 50, 99, 100, 500, 100_000].map(leaseSize)).toEqual([1, 1, 1, 2, 10, 2000]);
});

test("two processes never exceed the shared burst, and ask Postgres about once per lease", async () => {
  const tenantId = await createTenant(a.deps.db);
  const key = await createKey(a.deps.db, { tenantId, scopes: ["audit:read"] });
  const bucket = `key:${key.id}`;

  const first = await requests(key.token, 900);
  expect(first.every((r) => r.status === 200)).toBe(true);
  // Without leases: 900 writes. One per lease of 10, plus a few by requests that stopped waiting.
  const asked = await writes(bucket);
  expect(asked).toBeLessThanOrEqual(200);
  expect(asked).toBeGreaterThanOrEqual(90);

  const rest = await requests(key.token, 300);
  const ok = [...first, ...rest].filter((r) => r.status === 200).length;
  // The burst is 1,000 units; at most 9 per process may be left unspent in its lease.
  expect(ok).toBeLessThanOrEqual(1000);
  expect(ok).toBeGreaterThanOrEqual(1000 - 2 * (leaseSize(PER_KEY) - 1));
  const refused = rest.find((r) => r.status === 429);
  expect(refused?.body).toMatchObject({ type: "/problems/rate_limited", status: 429 });
  expect(refused?.headers.get("retry-after")).toBe("1");
});

test("remaining counts the process's own units; unspent units are dropped after LEASE_MS", async () => {
  const tenantId = await createTenant(a.deps.db);
  const key = await createKey(a.deps.db, { tenantId, scopes: ["audit:read"] });
  const bucket = `key:${key.id}`;
  const r1 = await a.request("GET", "/v1/audit-log?limit=1", { token: key.token });
  // 1,000 in the bucket, 10 taken, 1 spent: 990 in the row + 9 held here.
  expect(r1.headers.get("ratelimit-remaining")).toBe("999");
  const r2 = await a.request("GET", "/v1/audit-log?limit=1", { token: key.token });
  expect(r2.headers.get("ratelimit-remaining")).toBe("998");
  expect(await writes(bucket)).toBe(1);
  clock += LEASE_MS + 1;
  await a.request("GET", "/v1/audit-log?limit=1", { token: key.token });
  expect(await writes(bucket)).toBe(2);
});
