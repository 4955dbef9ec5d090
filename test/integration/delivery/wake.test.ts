import { afterAll, beforeAll, expect, test } from "vitest";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { createEndpoint, publish, settledDelivery } from "../../helpers/fixtures.ts";
import { type Received, startReceiver } from "../../helpers/receiver.ts";

const POLL_MS = 2_000;
/** Slack for the wake-up timer, the fetch and the request on a busy machine; well under POLL_MS. */
const SLACK_MS = 900;

let t: TestApp;
beforeAll(async () => {
  // A long idle poll, so a retry that waited for it would be late by up to POLL_MS.
  t = await startTestApp({ workers: { pollMs: POLL_MS } });
});
afterAll(async () => {
  await t?.close();
});

test("retries due beyond the poll interval start on time, each of several distinct ones", async () => {
  const schedules = [2_500, 3_300, 4_100];
  const rxs = await Promise.all(
    schedules.map(() =>
      startReceiver((_r: Received, i: number) => (i === 0 ? { status: 500 } : { status: 200 })),
    ),
  );
  try {
    const eps = await Promise.all(
      schedules.map((delay, i) => createEndpoint(t, { url: rxs[i]?.url ?? "", retrySchedule: [delay] })),
    );
    const evs = await Promise.all(eps.map((ep) => publish(t, "webhook.test", {}, { tenantId: ep.tenantId })));
    for (const [i, ep] of eps.entries()) {
      const d = await settledDelivery(t, evs[i]?.id ?? "", ep.id, { timeoutMs: 15_000 });
      expect(d).toMatchObject({ status: "succeeded", attemptCount: 2 });
    }
    for (const [i, rx] of rxs.entries()) {
      const [first, second] = rx.requests;
      const gap = (second?.at ?? 0) - (first?.at ?? 0);
      expect(gap).toBeGreaterThanOrEqual(schedules[i] as number);
      expect(gap).toBeLessThan((schedules[i] as number) + SLACK_MS);
    }
  } finally {
    for (const rx of rxs) await rx.close();
  }
});
