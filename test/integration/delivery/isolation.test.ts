import { afterAll, beforeAll, expect, test } from "vitest";
import { insertEvents } from "../../../src/services/events/insert.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { createEndpoint, createTenant } from "../../helpers/fixtures.ts";
import { startReceiver } from "../../helpers/receiver.ts";

// Long, so the hanging requests are still hanging when the fast endpoint is checked even on a
// loaded machine; the test never waits for it (close() cuts them).
const TIMEOUT_MS = 10_000;
const PER_ENDPOINT = 4;

let t: TestApp;
const closers: (() => Promise<void>)[] = [];
beforeAll(async () => {
  t = await startTestApp({
    env: {
      DELIVERY_TIMEOUT: `${TIMEOUT_MS}ms`,
      ENDPOINT_MAX_CONCURRENCY: String(PER_ENDPOINT),
      WORKER_CONCURRENCY: "16",
    },
  });
});
afterAll(async () => {
  for (const c of closers) await c();
  await t?.close();
});

test("a hanging endpoint holds at most its concurrency; a fast endpoint's deliveries are not delayed", async () => {
  const hanging = await startReceiver(() => "hang");
  const slowOne = await startReceiver(() => "hang");
  const fast = await startReceiver(() => ({ status: 200 }));
  closers.push(hanging.close, slowOne.close, fast.close);
  const tenantId = await createTenant(t);
  await createEndpoint(t, { url: hanging.url, tenantId, retrySchedule: [60_000] });
  // An endpoint's own maxConcurrency (a pg-boss group tier) is honoured too.
  await createEndpoint(t, { url: slowOne.url, tenantId, retrySchedule: [60_000], maxConcurrency: 1 });
  await createEndpoint(t, { url: fast.url, tenantId });

  const N = 20;
  const started = Date.now();
  await t.deps.db.transaction((tx) =>
    insertEvents(
      t.deps,
      tx,
      Array.from({ length: N }, (_, i) => ({ type: "webhook.test", data: { i }, tenantId })),
    ),
  );
  const received = await fast.waitFor(N, TIMEOUT_MS);
  const lastFast = Math.max(...received.map((r) => r.at));
  console.log(
    `fast endpoint: ${N} deliveries done ${lastFast - started} ms after publishing ${N} events, ` +
      `while ${hanging.requests.length} requests hang on the slow endpoint`,
  );
  // Every fast delivery landed before the first hanging request could even time out.
  const firstHang = hanging.requests[0]?.at ?? Number.POSITIVE_INFINITY;
  expect(lastFast).toBeLessThan(firstHang + TIMEOUT_MS);
  // The hanging endpoints were never given more than their concurrency.
  expect(hanging.requests.length).toBe(PER_ENDPOINT);
  expect(slowOne.requests.length).toBe(1);
  expect(new Set(received.map((r) => JSON.parse(r.body.toString()).data.i)).size).toBe(N);
});
