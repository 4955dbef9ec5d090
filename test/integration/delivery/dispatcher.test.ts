import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { BOSS_SCHEMA } from "../../../db/migrate.ts";
import { QUEUES } from "../../../src/jobs/queues.ts";
import { startWorkers, type Workers } from "../../../src/jobs/workers.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import {
  attemptsOf,
  createEndpoint,
  deliveryOf,
  publish,
  settledDelivery,
  waitUntil,
} from "../../helpers/fixtures.ts";
import { startReceiver } from "../../helpers/receiver.ts";

let t: TestApp;
const extraWorkers: Workers[] = [];
beforeAll(async () => {
  // A long request timeout, so only stop() can end the hanging request below.
  t = await startTestApp({ env: { DELIVERY_TIMEOUT: "20s" } });
});
afterAll(async () => {
  for (const w of extraWorkers) await w.stop({ timeoutMs: 1_000 });
  await t?.close();
});

type JobRow = { id: string; state: string; retry_count: number; output: unknown };
async function deliverJobs(deliveryId: string): Promise<JobRow[]> {
  return t.deps.sql<JobRow[]>`
    select id, state, retry_count, output from ${t.deps.sql(BOSS_SCHEMA)}.job
    where name = ${QUEUES.deliver} and data->>'deliveryId' = ${deliveryId}
    order by created_on`;
}

describe("DeliveryDispatcher", () => {
  // A job whose run throws (a transient database failure) is failed back to the queue and
  // retried; anything permanent is recorded as an attempt instead: internal-failures.test.ts.

  test("a malformed job is dropped (settled at once), not retried forever", async () => {
    const id = await t.deps.boss.send(QUEUES.deliver, { nonsense: true });
    if (!id) throw new Error("send returned no id");
    const dropped = await waitUntil(
      async () => {
        const [row] = await t.deps.sql<{ state: string }[]>`
          select state from ${t.deps.sql(BOSS_SCHEMA)}.job where id = ${id}`;
        return row ? null : true;
      },
      5_000,
      "the malformed job to be settled",
    );
    expect(dropped).toBe(true);
  });

  test("stop() cuts a live request, records it as aborted, and another worker takes the delivery over", async () => {
    let hangingClosed = false;
    const rx = await startReceiver((req, i) => {
      if (i > 0) return { status: 200 };
      return (res) => {
        res.on("close", () => {
          hangingClosed = true;
        });
        void req; // never answered
      };
    });
    try {
      const ep = await createEndpoint(t, { url: rx.url, retrySchedule: [60_000] });
      const ev = await publish(t, "webhook.test", { n: 2 }, { tenantId: ep.tenantId });
      await rx.waitFor(1);
      const workers = t.workers;
      if (!workers) throw new Error("no workers");
      const started = Date.now();
      const result = await workers.stop({ timeoutMs: 200 });
      const took = Date.now() - started;
      expect(result.released).toBe(1);
      expect(took).toBeLessThan(3_000);
      await waitUntil(async () => hangingClosed, 2_000, "the receiver to see the connection closed");

      // Recorded as aborted, rescheduled at once, and the schedule (one 60 s delay) is not used up.
      const d = await deliveryOf(t, ev.id, ep.id);
      expect(d).toMatchObject({ status: "pending", attemptCount: 1, cycleStart: 1 });
      const [aborted] = await attemptsOf(t, d?.id ?? "");
      expect(aborted).toMatchObject({ outcome: "failed", errorClass: "aborted", statusCode: null });

      // A new worker (another process, in production) delivers it right away, not in 60 s.
      const next = await startWorkers(t.deps);
      extraWorkers.push(next);
      const done = await settledDelivery(t, ev.id, ep.id, { timeoutMs: 5_000 });
      expect(done).toMatchObject({ status: "succeeded", attemptCount: 2 });
      expect(rx.requests).toHaveLength(2);
      expect(rx.requests[1]?.headers["webhook-id"]).toBe(ev.id);
      // No job of this delivery is left active.
      const jobs = await deliverJobs(done.id);
      expect(jobs.filter((j) => j.state === "active")).toEqual([]);
    } finally {
      await rx.close();
    }
  });
});
