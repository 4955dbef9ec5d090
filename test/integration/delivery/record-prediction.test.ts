import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { deliveries } from "../../../db/schema/index.ts";
import { runDeliveryAttempt } from "../../../src/delivery/attempt.ts";
import { loadDeliveries } from "../../../src/delivery/load.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { attemptsOf, createEndpoint, deliveryOf, publish, waitUntil } from "../../helpers/fixtures.ts";
import { startReceiver } from "../../helpers/receiver.ts";

// Recording predicts each delivery's counters from the row loaded before the request and checks
// the prediction in the same round trip (recordAttemptBatch). These change the row behind the
// attempt's back, as a manual retry, a worker that took over an expired lease or a deletion would
// while the request is in flight, and check that the attempt is recorded as if counted first.

let t: TestApp;
let rx: Awaited<ReturnType<typeof startReceiver>>;
beforeAll(async () => {
  // No workers: each test runs the attempt itself, with a load it made before the change.
  t = await startTestApp({ workers: false });
  rx = await startReceiver();
});
afterAll(async () => {
  await rx?.close();
  await t?.close();
});

/** A pending delivery to the receiver and its row as loaded for an attempt. */
async function loadedDelivery() {
  const ep = await createEndpoint(t, { url: rx.url });
  const ev = await publish(t, "webhook.test", { n: 1 }, { tenantId: ep.tenantId });
  const d = await waitUntil(() => deliveryOf(t, ev.id, ep.id), 5_000, "the delivery row");
  const loaded = (await loadDeliveries(t.deps, [d.id])).get(d.id);
  if (!loaded) throw new Error("delivery not loaded");
  return { d, loaded, job: { deliveryId: d.id, generation: d.generation, trigger: "scheduled" as const } };
}

describe("recording an attempt whose delivery changed during the request", () => {
  test("nothing changed: numbered from the load, delivery succeeded", async () => {
    const { d, loaded, job } = await loadedDelivery();
    const report = await runDeliveryAttempt(t.deps, job, { loaded });
    expect(report).toMatchObject({ outcome: "succeeded", next: "done" });
    expect((await attemptsOf(t, d.id)).map((a) => a.number)).toEqual([1]);
    const [row] = await t.deps.db.select().from(deliveries).where(eq(deliveries.id, d.id));
    expect(row).toMatchObject({ status: "succeeded", attemptCount: 1 });
  });

  test("another attempt was counted meanwhile: this one is numbered after it", async () => {
    const { d, loaded, job } = await loadedDelivery();
    await t.deps.db.execute(sql`update deliveries set attempt_count = attempt_count + 1 where id = ${d.id}`);
    const report = await runDeliveryAttempt(t.deps, job, { loaded });
    expect(report).toMatchObject({ outcome: "succeeded", next: "done" });
    expect((await attemptsOf(t, d.id)).map((a) => a.number)).toEqual([2]);
    const [row] = await t.deps.db.select().from(deliveries).where(eq(deliveries.id, d.id));
    expect(row).toMatchObject({ status: "succeeded", attemptCount: 2 });
  });

  test("a manual retry took over (new generation): the attempt is logged, the delivery left to the retry", async () => {
    const { d, loaded, job } = await loadedDelivery();
    await t.deps.db.execute(
      sql`update deliveries set generation = generation + 1, cycle_start = attempt_count where id = ${d.id}`,
    );
    const report = await runDeliveryAttempt(t.deps, job, { loaded });
    expect(report).toMatchObject({ outcome: "succeeded", next: "done" });
    expect((await attemptsOf(t, d.id)).map((a) => [a.number, a.outcome])).toEqual([[1, "succeeded"]]);
    const [row] = await t.deps.db.select().from(deliveries).where(eq(deliveries.id, d.id));
    expect(row).toMatchObject({ status: "pending", attemptCount: 1, generation: d.generation + 1 });
  });

  test("the delivery was deleted: skipped, nothing recorded, no error", async () => {
    const { d, loaded, job } = await loadedDelivery();
    await t.deps.db.delete(deliveries).where(eq(deliveries.id, d.id));
    const report = await runDeliveryAttempt(t.deps, job, { loaded });
    expect(report).toMatchObject({ deliveryId: d.id, outcome: "skipped" });
    expect(await attemptsOf(t, d.id)).toEqual([]);
  });
});
