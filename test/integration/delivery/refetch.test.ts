import { afterAll, beforeAll, expect, test } from "vitest";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { createEndpoint, publish, waitUntil } from "../../helpers/fixtures.ts";
import { startReceiver } from "../../helpers/receiver.ts";

/**
 * When a finished delivery fetches again (dispatcher.ts #slotFreed): only when jobs wait. With a
 * 10 s idle poll, a backlog held back by an endpoint's concurrency limit drains only if each
 * finish wakes the fetch; and an idle queue sees no fetch per finish.
 */
const POLL_MS = 10_000;
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ workers: { pollMs: POLL_MS } });
});
afterAll(async () => {
  await t?.close();
});

test("a backlog to an endpoint limited to one request at a time drains one after another, not one per poll", async () => {
  const rx = await startReceiver(() => ({ status: 200 }));
  try {
    const ep = await createEndpoint(t, { url: rx.url, maxConcurrency: 1 });
    const n = 20;
    const started = Date.now();
    const res = await t.request("POST", "/v1/events/batch", {
      token: t.operatorToken,
      body: {
        events: Array.from({ length: n }, (_, i) => ({
          type: "webhook.test",
          tenantId: ep.tenantId,
          data: { endpointId: ep.id, message: `backlog ${i}` },
        })),
      },
    });
    expect(res.status).toBe(202);
    await waitUntil(async () => rx.requests.length >= n, 8_000, `${n} deliveries`).catch((err) => {
      throw new Error(`${(err as Error).message}; got ${rx.requests.length}`);
    });
    // One poll interval would be 10 s per delivery beyond the first.
    expect(Date.now() - started).toBeLessThan(POLL_MS);
  } finally {
    await rx.close();
  }
});

test("with nothing else queued, a finished delivery does not run another fetch", async () => {
  const rx = await startReceiver(() => ({ status: 200 }));
  try {
    const ep = await createEndpoint(t, { url: rx.url });
    const fetch = t.deps.boss.fetch.bind(t.deps.boss);
    let fetches = 0;
    t.deps.boss.fetch = ((...args: Parameters<typeof fetch>) => {
      fetches++;
      return fetch(...args);
    }) as typeof fetch;
    try {
      for (let i = 0; i < 5; i++) {
        const before = rx.requests.length;
        await publish(t, "webhook.test", { i }, { tenantId: ep.tenantId });
        await waitUntil(async () => rx.requests.length > before, 5_000, "the delivery");
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      t.deps.boss.fetch = fetch;
    }
    // One fetch per event, woken by its NOTIFY (the old rule fetched again after each finish: 10).
    expect(fetches).toBeLessThanOrEqual(6);
    expect(fetches).toBeGreaterThanOrEqual(5);
  } finally {
    await rx.close();
  }
});
