import { eq, inArray } from "drizzle-orm";
import { afterAll, beforeAll, expect, test } from "vitest";
import { BOSS_SCHEMA } from "../../../db/migrate.ts";
import { deliveries, endpoints, tenants } from "../../../db/schema/index.ts";
import { fanOutEvents } from "../../../src/delivery/fanout.ts";
import { QUEUES } from "../../../src/jobs/queues.ts";
import { insertEvents } from "../../../src/services/events/insert.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { createEndpoint, createTenant } from "../../helpers/fixtures.ts";

let t: TestApp;
beforeAll(async () => {
  // No workers: the test runs the fan-out itself and inspects what it created.
  t = await startTestApp({ workers: false });
});
afterAll(async () => {
  await t?.close();
});

test("a batch of events fans out to exactly the matching live endpoints, once", async () => {
  const a = await createTenant(t, "a");
  const b = await createTenant(t, "b");
  const gone = await createTenant(t, "gone");
  const url = "http://127.0.0.1:9/hook";
  const all = await createEndpoint(t, { url, tenantId: a });
  const grades = await createEndpoint(t, { url, tenantId: a, eventTypes: ["grade.*"] });
  const aapl = await createEndpoint(t, { url, tenantId: a });
  await t.deps.db
    .update(endpoints)
    .set({ symbols: ["AAPL"] })
    .where(eq(endpoints.id, aapl.id));
  const disabled = await createEndpoint(t, { url, tenantId: a });
  await t.deps.db.update(endpoints).set({ disabled: true }).where(eq(endpoints.id, disabled.id));
  const other = await createEndpoint(t, { url, tenantId: b });
  const orphan = await createEndpoint(t, { url, tenantId: gone });
  await t.deps.db.update(tenants).set({ deletedAt: new Date() }).where(eq(tenants.id, gone));

  const evs = await t.deps.db.transaction((tx) =>
    insertEvents(t.deps, tx, [
      { type: "grade.changed", data: {}, tenantId: a, symbol: "aapl" },
      { type: "signal.new", data: {}, tenantId: a, symbol: "MSFT" },
      { type: "grade.reset", data: {}, tenantId: null },
      { type: "signal.new", data: {}, tenantId: b },
    ]),
  );
  const ids = evs.map((e) => e.id);
  let commits = 0;
  // Unknown ids and repeats are ignored.
  const first = await fanOutEvents(t.deps, [...ids, ids[0] ?? "", "evt_missing"], {
    onCommit: () => commits++,
  });
  expect(first.deliveries).toBe(9);
  expect(commits).toBe(1);

  const rows = await t.deps.db
    .select({
      id: deliveries.id,
      eventId: deliveries.eventId,
      endpointId: deliveries.endpointId,
      status: deliveries.status,
    })
    .from(deliveries)
    .where(inArray(deliveries.eventId, ids));
  const got = rows.map((r) => `${ids.indexOf(r.eventId)}:${r.endpointId}`).sort();
  const want = [
    ...[all, grades, aapl].map((e) => `0:${e.id}`),
    `1:${all.id}`,
    ...[all, grades, aapl, other].map((e) => `2:${e.id}`),
    `3:${other.id}`,
  ].sort();
  expect(got).toEqual(want);
  expect(rows.every((r) => r.status === "pending")).toBe(true);
  expect(got.join()).not.toContain(disabled.id);
  expect(got.join()).not.toContain(orphan.id);

  // Each delivery was enqueued with it, once; a repeated fan-out (a retried job) adds nothing.
  const again = await fanOutEvents(t.deps, ids);
  expect(again.deliveries).toBe(0);
  const [jobs] = await t.deps.sql<{ n: number }[]>`
    select count(*)::int as n from ${t.deps.sql(BOSS_SCHEMA)}.job
    where name = ${QUEUES.deliver} and data->>'deliveryId' in ${t.deps.sql(rows.map((r) => r.id))}`;
  expect(jobs?.n).toBe(9);
});
