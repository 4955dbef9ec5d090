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
let inline: TestApp;
beforeAll(async () => {
  // No workers: the tests run the fan-out themselves and inspect what it created. `t` always goes
  // through the fan-out job; `inline` creates up to 3 deliveries in the publishing transaction.
  t = await startTestApp({ workers: false, env: { FANOUT_INLINE_MAX: "0" } });
  inline = await startTestApp({ workers: false, env: { FANOUT_INLINE_MAX: "3" } });
});
afterAll(async () => {
  await inline?.close();
  await t?.close();
});

async function jobsFor(app: TestApp, queue: string, key: string, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const [row] = await app.deps.sql<{ n: number }[]>`
    select count(*)::int as n from ${app.deps.sql(BOSS_SCHEMA)}.job
    where name = ${queue} and data->>${key} in ${app.deps.sql([...ids])}`;
  return row?.n ?? 0;
}

async function deliveriesOf(app: TestApp, eventIds: readonly string[]) {
  return app.deps.db
    .select({ id: deliveries.id, eventId: deliveries.eventId, endpointId: deliveries.endpointId })
    .from(deliveries)
    .where(inArray(deliveries.eventId, [...eventIds]));
}

test("a small fan-out is created in the publishing transaction: deliveries and their jobs, no fan-out job", async () => {
  const a = await createTenant(inline, "inline-a");
  const url = "http://127.0.0.1:9/hook";
  const e1 = await createEndpoint(inline, { url, tenantId: a });
  const e2 = await createEndpoint(inline, { url, tenantId: a, eventTypes: ["grade.*"] });
  const evs = await inline.deps.db.transaction((tx) =>
    insertEvents(inline.deps, tx, [
      { type: "grade.changed", data: {}, tenantId: a },
      { type: "signal.new", data: {}, tenantId: a },
    ]),
  );
  const ids = evs.map((e) => e.id);
  const rows = await deliveriesOf(inline, ids);
  expect(rows.map((r) => `${ids.indexOf(r.eventId)}:${r.endpointId}`).sort()).toEqual(
    [`0:${e1.id}`, `0:${e2.id}`, `1:${e1.id}`].sort(),
  );
  expect(
    await jobsFor(
      inline,
      QUEUES.deliver,
      "deliveryId",
      rows.map((r) => r.id),
    ),
  ).toBe(3);
  expect(await jobsFor(inline, QUEUES.fanout, "eventId", ids)).toBe(0);
  // A fan-out job retried anyway (or the worker meeting these ids) adds nothing.
  expect((await fanOutEvents(inline.deps, ids)).deliveries).toBe(0);

  // Rolled back with the events: nothing remains of either.
  const rolledBack: string[] = [];
  await inline.deps.db
    .transaction(async (tx) => {
      const [ev] = await insertEvents(inline.deps, tx, [{ type: "signal.new", data: {}, tenantId: a }]);
      if (ev) rolledBack.push(ev.id);
      throw new Error("roll back");
    })
    .catch(() => {});
  expect(rolledBack).toHaveLength(1);
  expect(await deliveriesOf(inline, rolledBack)).toEqual([]);
});

test("a fan-out above FANOUT_INLINE_MAX goes to the fan-out job, whole", async () => {
  const a = await createTenant(inline, "inline-big");
  const url = "http://127.0.0.1:9/hook";
  for (let i = 0; i < 4; i++) await createEndpoint(inline, { url, tenantId: a });
  // 4 candidate endpoints > 3; and 2 events × 2 endpoints = 4 targets > 3 on a tenant with 2.
  const b = await createTenant(inline, "inline-two");
  for (let i = 0; i < 2; i++) await createEndpoint(inline, { url, tenantId: b });
  const evs = await inline.deps.db.transaction((tx) =>
    insertEvents(inline.deps, tx, [{ type: "signal.new", data: {}, tenantId: a }]),
  );
  const pair = await inline.deps.db.transaction((tx) =>
    insertEvents(inline.deps, tx, [
      { type: "signal.new", data: {}, tenantId: b },
      { type: "signal.new", data: {}, tenantId: b },
    ]),
  );
  const ids = [...evs, ...pair].map((e) => e.id);
  expect(await deliveriesOf(inline, ids)).toEqual([]);
  expect(await jobsFor(inline, QUEUES.fanout, "eventId", ids)).toBe(3);
  expect((await fanOutEvents(inline.deps, ids)).deliveries).toBe(8);
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
  expect(
    await jobsFor(
      t,
      QUEUES.deliver,
      "deliveryId",
      rows.map((r) => r.id),
    ),
  ).toBe(9);
});
