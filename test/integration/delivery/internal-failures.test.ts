import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { endpointSecrets, endpoints } from "../../../db/schema/index.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import {
  attemptsOf,
  type CreatedEndpoint,
  createEndpoint,
  deliveryOf,
  publish,
  settledDelivery,
  waitUntil,
} from "../../helpers/fixtures.ts";
import { deliverJobsOf, logSettledDeliverJobs } from "../../helpers/jobs.ts";
import { startReceiver } from "../../helpers/receiver.ts";

const SCHEDULE = [50, 100];

let t: TestApp;
const closers: (() => Promise<void>)[] = [];
beforeAll(async () => {
  t = await startTestApp();
  // Simulated database failures while recording an attempt, switched on per endpoint.
  await t.deps.db.execute(sql`
    create table test_record_failures (endpoint_id text primary key, errcode text not null);
    create function test_fail_attempt() returns trigger language plpgsql as $$
    declare code text;
    begin
      select errcode into code from test_record_failures where endpoint_id = new.endpoint_id;
      -- The permanent failure spares the engine's own fallback row, as a bad value would.
      if code is not null and (code <> '23514' or new.error_class is distinct from 'internal') then
        raise exception 'simulated failure %', code using errcode = code;
      end if;
      return new;
    end $$;
    create trigger test_fail_attempt before insert on attempts
      for each row execute function test_fail_attempt();`);
  await logSettledDeliverJobs(t);
});
afterAll(async () => {
  for (const c of closers) await c();
  await t?.close();
});

async function receiver() {
  const rx = await startReceiver();
  closers.push(rx.close);
  return rx;
}

const deliverJobs = (deliveryId: string) => deliverJobsOf(t, deliveryId);

/** Publishes one event to `ep` and waits for the delivery to be final. */
async function deliver(ep: CreatedEndpoint) {
  const ev = await publish(t, "webhook.test", { for: ep.id }, { tenantId: ep.tenantId });
  const delivery = await settledDelivery(t, ev.id, ep.id);
  return { ev, delivery, atts: await attemptsOf(t, delivery.id), jobs: await deliverJobs(delivery.id) };
}

describe("a secret that cannot be decrypted", () => {
  test.each([
    ["an unknown encryption key id", { keyId: "retired-key" }, 'with encryption key "retired-key"'],
    ["a corrupted ciphertext", { ciphertext: "v1.AAAA.AAAA.AAAA" }, "could not be decrypted"],
  ])(
    "%s: failed attempts (internal) on the schedule to dead, nothing sent, no queue retries",
    async (_name, damage, text) => {
      const rx = await receiver();
      const ep = await createEndpoint(t, { url: rx.url, retrySchedule: SCHEDULE });
      const [secretRow] = await t.deps.db
        .update(endpointSecrets)
        .set(damage)
        .where(eq(endpointSecrets.endpointId, ep.id))
        .returning();
      const { delivery, atts, jobs } = await deliver(ep);
      expect(delivery).toMatchObject({ status: "dead", attemptCount: 3, lastStatusCode: null });
      expect(atts.map((a) => [a.number, a.outcome, a.errorClass, a.statusCode])).toEqual([
        [1, "failed", "internal", null],
        [2, "failed", "internal", null],
        [3, "failed", "internal", null],
      ]);
      expect(atts[0]?.errorMessage).toBe(
        `signing secret ${secretRow?.id} could not be decrypted with encryption key "${secretRow?.keyId}"`,
      );
      expect(atts[0]?.errorMessage).toContain(text);
      expect(delivery.lastError).toBe(atts[0]?.errorMessage);
      // Nothing secret was logged: no headers, no ciphertext, no plaintext.
      expect(atts[0]?.requestHeaders).toEqual({});
      expect(JSON.stringify(atts)).not.toContain(ep.secret.slice(6, 20));
      expect(JSON.stringify(atts)).not.toContain(secretRow?.ciphertext);
      // Every job was settled on its first run (deleted while active, never retried): none was
      // failed back to the queue.
      expect(jobs.map((j) => [j.settled, j.state, j.retry_count])).toEqual([
        [true, "active", 0],
        [true, "active", 0],
        [true, "active", 0],
      ]);
      expect(rx.requests).toHaveLength(0);
      // Not the receiver's fault: the endpoint is not marked as failing.
      const [endpoint] = await t.deps.db.select().from(endpoints).where(eq(endpoints.id, ep.id));
      expect(endpoint?.failingSince).toBeNull();
    },
  );
});

describe("an endpoint without an active secret", () => {
  test.each([
    ["every secret expired", "expire"],
    ["no secret row at all", "delete"],
  ] as const)(
    "%s: never sent unsigned; failed attempts (no_secret) on the schedule to dead",
    async (_name, how) => {
      const rx = await receiver();
      const ep = await createEndpoint(t, { url: rx.url, retrySchedule: SCHEDULE });
      if (how === "expire")
        await t.deps.db
          .update(endpointSecrets)
          .set({ expiresAt: new Date(Date.now() - 1_000) })
          .where(eq(endpointSecrets.endpointId, ep.id));
      else await t.deps.db.delete(endpointSecrets).where(eq(endpointSecrets.endpointId, ep.id));
      const { delivery, atts, jobs } = await deliver(ep);
      expect(delivery).toMatchObject({
        status: "dead",
        attemptCount: 3,
        lastError: "the endpoint has no active signing secret; nothing was sent",
      });
      expect(atts.map((a) => [a.outcome, a.errorClass, a.statusCode])).toEqual([
        ["failed", "no_secret", null],
        ["failed", "no_secret", null],
        ["failed", "no_secret", null],
      ]);
      expect(jobs).toHaveLength(3);
      expect(jobs.every((j) => j.settled && j.retry_count === 0)).toBe(true);
      expect(rx.requests).toHaveLength(0);
    },
  );

  test("a secret added meanwhile is used by the next scheduled attempt", async () => {
    const rx = await receiver();
    const ep = await createEndpoint(t, { url: rx.url, retrySchedule: [800] });
    const [old] = await t.deps.db
      .delete(endpointSecrets)
      .where(eq(endpointSecrets.endpointId, ep.id))
      .returning();
    const ev = await publish(t, "webhook.test", { n: 1 }, { tenantId: ep.tenantId });
    const first = await waitUntil(
      async () => {
        const d = await deliveryOf(t, ev.id, ep.id);
        return d && d.attemptCount === 1 ? d : null;
      },
      5_000,
      "the first attempt",
    );
    if (old) await t.deps.db.insert(endpointSecrets).values(old);
    const done = await settledDelivery(t, ev.id, ep.id);
    expect(done).toMatchObject({ status: "succeeded", attemptCount: 2 });
    expect((await attemptsOf(t, first.id)).map((a) => a.errorClass)).toEqual(["no_secret", null]);
    expect(rx.requests).toHaveLength(1);
    expect(rx.requests[0]?.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/=]{44}$/);
  });
});

describe("database failures while recording an attempt", () => {
  test("a transient one (serialization failure) goes back to the queue; the retry records it", async () => {
    const rx = await receiver();
    const ep = await createEndpoint(t, { url: rx.url, retrySchedule: SCHEDULE });
    await t.deps.db.execute(sql`insert into test_record_failures values (${ep.id}, '40001')`);
    const ev = await publish(t, "webhook.test", { n: 1 }, { tenantId: ep.tenantId });
    const pending = await waitUntil(() => deliveryOf(t, ev.id, ep.id), 5_000, "the delivery row");
    const retried = await waitUntil(
      async () => (await deliverJobs(pending.id)).find((j) => j.retry_count >= 1),
      10_000,
      "the job to be failed back and retried",
    );
    // The job's failure names the cause, not the whole query with its parameters.
    expect(JSON.stringify(retried.output)).toContain("40001: simulated failure 40001");
    expect(JSON.stringify(retried.output)).not.toContain("insert into");
    // Nothing recorded while the failure lasts; the delivery is still pending at attempt 0.
    expect(await attemptsOf(t, pending.id)).toEqual([]);
    expect((await deliveryOf(t, ev.id, ep.id))?.attemptCount).toBe(0);
    await t.deps.db.execute(sql`delete from test_record_failures where endpoint_id = ${ep.id}`);
    const done = await settledDelivery(t, ev.id, ep.id);
    expect(done).toMatchObject({ status: "succeeded", attemptCount: 1 });
    expect(await attemptsOf(t, done.id)).toHaveLength(1);
    // At least once: the request was repeated by the queue's retry.
    expect(rx.requests.length).toBeGreaterThanOrEqual(2);
  });

  test("a permanent one (check violation) is recorded as an internal failure and the schedule runs to dead", async () => {
    const rx = await receiver();
    const ep = await createEndpoint(t, { url: rx.url, retrySchedule: SCHEDULE });
    await t.deps.db.execute(sql`insert into test_record_failures values (${ep.id}, '23514')`);
    const { delivery, atts, jobs } = await deliver(ep);
    expect(delivery).toMatchObject({ status: "dead", attemptCount: 3 });
    expect(atts.map((a) => [a.outcome, a.errorClass, a.errorMessage])).toEqual(
      Array.from({ length: 3 }, () => ["failed", "internal", "the attempt's result could not be recorded"]),
    );
    expect(jobs.map((j) => [j.settled, j.state, j.retry_count])).toEqual(
      Array.from({ length: 3 }, () => [true, "active", 0]),
    );
    expect(rx.requests).toHaveLength(3);
  });
});
