import { eq } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { BOSS_SCHEMA } from "../../db/migrate.ts";
import { attempts, deliveries } from "../../db/schema/index.ts";
import { QUEUES } from "../../src/jobs/queues.ts";
import { insertEvents } from "../../src/services/events/insert.ts";
import type { TestApp } from "../helpers/app.ts";
import type { TestDatabase } from "../helpers/db.ts";
import { type Received, startReceiver } from "../helpers/receiver.ts";
import { deliveryRow, eventually, makeEndpoint, makeTenant } from "../integration/maintenance/fixtures.ts";
import { chaosDatabase, chaosEnv, type Proc, sleep, spawnSignalpost, stop } from "./harness.ts";

let db: TestDatabase;
let key: string;
let t: TestApp;
const procs: Proc[] = [];
beforeAll(async () => {
  ({ db, key, t } = await chaosDatabase());
});
afterEach(async () => {
  for (const p of procs.splice(0)) {
    p.kill("SIGKILL");
    await p.exited;
  }
});
afterAll(async () => {
  await t?.close();
  await db?.drop();
});

async function worker(extra: Record<string, string> = {}): Promise<Proc> {
  const p = await spawnSignalpost("worker", chaosEnv(db, key, extra));
  procs.push(p);
  await p.waitReady();
  return p;
}

async function publishTo(url: string): Promise<{ eventId: string; deliveryId: () => Promise<string> }> {
  const tenantId = await makeTenant(t.deps);
  const ep = await makeEndpoint(t.deps, tenantId, url);
  const [ev] = await t.deps.db.transaction((tx) =>
    insertEvents(t.deps, tx, [{ type: "webhook.test", tenantId, data: { chaos: true } }]),
  );
  if (!ev) throw new Error("no event");
  return {
    eventId: ev.id,
    deliveryId: () =>
      eventually(async () => {
        const [d] = await t.deps.db.select().from(deliveries).where(eq(deliveries.endpointId, ep.id));
        return d?.id;
      }),
  };
}

describe("SIGKILL", () => {
  test("a worker killed mid-request: after the lease the delivery is attempted again, same webhook-id", async () => {
    const rx = await startReceiver((_r, i) => (i === 0 ? "hang" : { status: 200 }));
    try {
      const w1 = await worker();
      const { eventId, deliveryId } = await publishTo(rx.url);
      const [first] = await rx.waitFor(1, 20_000);
      w1.kill("SIGKILL");
      expect((await w1.exited).signal).toBe("SIGKILL");
      const w2 = await worker();
      void w2;
      const got = await rx.waitFor(2, 40_000);
      const second = got[1] as Received;
      expect(second.headers["webhook-id"]).toBe(eventId);
      expect(first?.headers["webhook-id"]).toBe(eventId);
      // Not before the lease (8 s) ran out: an expired job never overlaps a live request.
      expect(second.at - (first as Received).at).toBeGreaterThanOrEqual(7_500);
      const id = await deliveryId();
      await eventually(async () => (await deliveryRow(t.deps, id)).status === "succeeded", 10_000);
      // The killed attempt left no row (its worker died before recording it); the retry did.
      const rows = await t.deps.db.select().from(attempts).where(eq(attempts.deliveryId, id));
      expect(rows.map((r) => r.outcome)).toEqual(["succeeded"]);
    } finally {
      await rx.close();
    }
  });

  test("a kill on the last permitted attempt still ends dead-lettered, not stuck", async () => {
    // Schedule 200ms,200ms: 3 attempts. Attempts 1-2 fail, 3 hangs and its worker is killed.
    const rx = await startReceiver((_r, i) => (i === 2 ? "hang" : { status: 500 }));
    try {
      const w1 = await worker();
      const { deliveryId } = await publishTo(rx.url);
      await rx.waitFor(3, 20_000);
      w1.kill("SIGKILL");
      await w1.exited;
      await worker();
      const id = await deliveryId();
      const row = await eventually(async () => {
        const r = await deliveryRow(t.deps, id);
        return r.status === "dead" ? r : null;
      }, 40_000);
      expect(row.attemptCount).toBe(3);
      expect(rx.requests).toHaveLength(4);
    } finally {
      await rx.close();
    }
  });

  test("…and when the killed attempt's job is lost too, the sweeper re-enqueues it and it ends dead", async () => {
    const rx = await startReceiver((_r, i) => (i === 2 ? "hang" : { status: 500 }));
    try {
      const w1 = await worker({ SWEEPER_MARGIN: "1s" });
      const { deliveryId } = await publishTo(rx.url);
      await rx.waitFor(3, 20_000);
      w1.kill("SIGKILL");
      await w1.exited;
      const id = await deliveryId();
      // The job vanishes with the worker (as if purged or exhausted): only the sweeper can save it.
      await t.deps
        .sql`delete from ${t.deps.sql(BOSS_SCHEMA)}.job where name = ${QUEUES.deliver} and data->>'deliveryId' = ${id}`;
      await worker({ SWEEPER_MARGIN: "1s" });
      await sleep(1_200);
      await t.deps.boss.send(QUEUES.maintenance, { kind: "test" });
      const row = await eventually(async () => {
        const r = await deliveryRow(t.deps, id);
        return r.status === "dead" ? r : null;
      }, 30_000);
      expect(row.attemptCount).toBe(3);
      expect(row.generation).toBeGreaterThanOrEqual(3);
    } finally {
      await rx.close();
    }
  });
});

describe("SIGTERM", () => {
  test("graceful: stops taking jobs, finishes the request in flight, exits 0; a restart resumes the rest promptly", async () => {
    // The first request takes 1.5 s to answer; everything after answers at once.
    const rx = await startReceiver(async (_r, i) => {
      if (i === 0) await sleep(1_500);
      return { status: 200 };
    });
    try {
      const w1 = await worker();
      const first = await publishTo(rx.url);
      await rx.waitFor(1, 20_000);
      w1.kill("SIGTERM");
      await w1.waitLine(/shutting down/);
      // Published during shutdown: this worker must not take it.
      const second = await publishTo(`${rx.url}?after-term`);
      const exit = await w1.exited;
      expect(exit.code).toBe(0);
      await w1.waitLine(/"finished":1,"released":0|workers stopped/);
      const firstId = await first.deliveryId();
      expect((await deliveryRow(t.deps, firstId)).status).toBe("succeeded");
      expect(rx.requests.filter((r) => r.url.includes("after-term"))).toHaveLength(0);

      const restartedAt = Date.now();
      await worker();
      const got = await eventually(async () => rx.requests.find((r) => r.url.includes("after-term")), 10_000);
      expect(got.headers["webhook-id"]).toBe(second.eventId);
      expect(got.at - restartedAt).toBeLessThan(8_000);
      expect(rx.requests).toHaveLength(2);
    } finally {
      await rx.close();
    }
  });

  test("a request still running at the grace deadline is cut, logged as released, and resumed by the next worker", async () => {
    // DELIVERY_TIMEOUT above the 10 s shutdown grace, so the hanging request outlives it.
    const extra = { DELIVERY_TIMEOUT: "20s", DELIVERY_LEASE: "30s" };
    const rx = await startReceiver((_r, i) => (i === 0 ? "hang" : { status: 200 }));
    try {
      const w1 = await worker(extra);
      const { eventId, deliveryId } = await publishTo(rx.url);
      await rx.waitFor(1, 20_000);
      w1.kill("SIGTERM");
      const exit = await w1.exited;
      expect(exit.code).toBe(0);
      await w1.waitLine(/aborting in-flight deliveries at shutdown|releasing in-flight/);
      const restartedAt = Date.now();
      await worker(extra);
      const got = await rx.waitFor(2, 15_000);
      expect(got[1]?.headers["webhook-id"]).toBe(eventId);
      // Promptly: not after the 30 s lease.
      expect((got[1] as Received).at - restartedAt).toBeLessThan(8_000);
      const id = await deliveryId();
      await eventually(async () => (await deliveryRow(t.deps, id)).status === "succeeded");
    } finally {
      await rx.close();
    }
  });
});

describe("restarts", () => {
  test("a retry that comes due while no worker runs goes out when one starts", async () => {
    const rx = await startReceiver((_r, i) => (i === 0 ? { status: 500 } : { status: 200 }));
    try {
      const extra = { DELIVERY_RETRY_SCHEDULE: "3s" };
      const w1 = await worker(extra);
      const { eventId, deliveryId } = await publishTo(rx.url);
      await rx.waitFor(1, 20_000);
      const id = await deliveryId();
      await eventually(async () => (await deliveryRow(t.deps, id)).attemptCount === 1);
      await stop(w1);
      await sleep(4_000); // the retry is due now, and nobody is running
      expect(rx.requests).toHaveLength(1);
      const restartedAt = Date.now();
      await worker(extra);
      const got = await rx.waitFor(2, 15_000);
      expect(got[1]?.headers["webhook-id"]).toBe(eventId);
      expect((got[1] as Received).at - restartedAt).toBeLessThan(8_000);
      await eventually(async () => (await deliveryRow(t.deps, id)).status === "succeeded");
    } finally {
      await rx.close();
    }
  });
});
