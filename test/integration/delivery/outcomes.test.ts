import http from "node:http";
import type { AddressInfo } from "node:net";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { endpoints } from "../../../db/schema/index.ts";
import type { Resolver } from "../../../src/delivery/ssrf.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { attemptsOf, createEndpoint, deliveryOf, publish, settledDelivery } from "../../helpers/fixtures.ts";
import { type Received, type Reply, startReceiver } from "../../helpers/receiver.ts";

const TIMEOUT_MS = 300;
// Above the largest Retry-After these tests send (an HTTP-date up to 2 s ahead), except the clamp test's.
const RETRY_AFTER_MAX_MS = 2_500;

let t: TestApp;
const closers: (() => Promise<void>)[] = [];
const resolved: string[] = [];
const resolver: Resolver = async (host) => {
  resolved.push(host);
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
};

beforeAll(async () => {
  t = await startTestApp({
    env: {
      DELIVERY_TIMEOUT: `${TIMEOUT_MS}ms`,
      DELIVERY_RETRY_AFTER_MAX: `${RETRY_AFTER_MAX_MS}ms`,
      DELIVERY_RETRY_SCHEDULE: "50ms,100ms",
    },
    build: { resolver },
  });
});
afterAll(async () => {
  for (const c of closers) await c();
  await t?.close();
});

async function receiver(respond: (req: Received, index: number) => Reply | Promise<Reply>) {
  const rx = await startReceiver(respond);
  closers.push(rx.close);
  return rx;
}

/** One endpoint (own tenant) and one event for it; resolves when the delivery is final. */
async function deliverOnce(url: string, retrySchedule?: number[], timeoutMs = 10_000) {
  const ep = await createEndpoint(t, { url, ...(retrySchedule ? { retrySchedule } : {}) });
  const ev = await publish(t, "webhook.test", { for: ep.id }, { tenantId: ep.tenantId });
  const delivery = await settledDelivery(t, ev.id, ep.id, { timeoutMs });
  const atts = await attemptsOf(t, delivery.id);
  return { ep, ev, delivery, atts };
}

const gaps = (reqs: Received[]) => reqs.slice(1).map((r, i) => r.at - (reqs[i] as Received).at);
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("2xx is success", () => {
  test.each([200, 201, 202, 204, 299])("%i: one request, delivery succeeded", async (status) => {
    const rx = await receiver(() => ({ status, body: status === 204 ? "" : "ok" }));
    const { delivery, atts } = await deliverOnce(rx.url, [50, 50]);
    expect(delivery).toMatchObject({ status: "succeeded", attemptCount: 1, lastStatusCode: status });
    expect(atts).toHaveLength(1);
    expect(atts[0]).toMatchObject({ outcome: "succeeded", statusCode: status, errorClass: null, number: 1 });
    await pause(150);
    expect(rx.requests).toHaveLength(1);
  });
});

describe("redirects are not followed", () => {
  test.each([301, 302, 303, 307, 308])(
    "%i: failure with the Location logged; the target gets nothing",
    async (status) => {
      const target = await receiver(() => ({ status: 200 }));
      const rx = await receiver(() => ({ status, headers: { location: target.url } }));
      const { delivery, atts } = await deliverOnce(rx.url, [50]);
      expect(delivery).toMatchObject({ status: "dead", attemptCount: 2, lastStatusCode: status });
      expect(atts.map((a) => [a.outcome, a.statusCode, a.errorClass])).toEqual([
        ["failed", status, "redirect"],
        ["failed", status, "redirect"],
      ]);
      expect(atts[0]?.errorMessage).toContain(`Location: ${target.url}`);
      expect(rx.requests).toHaveLength(2);
      expect(target.requests).toHaveLength(0);
    },
  );
});

describe("410 Gone", () => {
  test("disables the endpoint, ends this delivery and cancels the endpoint's other pending ones", async () => {
    const rx = await receiver((r) =>
      JSON.parse(r.body.toString()).data.n === 1 ? { status: 500 } : { status: 410 },
    );
    const ep = await createEndpoint(t, { url: rx.url, retrySchedule: [1_000, 1_000] });
    const first = await publish(t, "webhook.test", { n: 1 }, { tenantId: ep.tenantId });
    await rx.waitFor(1);
    const second = await publish(t, "webhook.test", { n: 2 }, { tenantId: ep.tenantId });
    const gone = await settledDelivery(t, second.id, ep.id);
    expect(gone).toMatchObject({ status: "dead", lastStatusCode: 410 });
    const [endpoint] = await t.deps.db.select().from(endpoints).where(eq(endpoints.id, ep.id));
    expect(endpoint?.disabled).toBe(true);
    expect(endpoint?.disabledReason).toContain("410");
    expect((await deliveryOf(t, first.id, ep.id))?.status).toBe("cancelled");
    // The cancelled delivery's retry (due 1 s after its first attempt) makes no request, and new
    // events no longer fan out to the disabled endpoint.
    const third = await publish(t, "webhook.test", { n: 3 }, { tenantId: ep.tenantId });
    await pause(1_500);
    expect(rx.requests).toHaveLength(2);
    expect(await deliveryOf(t, third.id, ep.id)).toBeNull();
  });
});

describe("429 and 503 honour Retry-After", () => {
  test.each([429, 503])(
    "%i with Retry-After in seconds: the retry waits at least that long",
    async (status) => {
      const rx = await receiver((_r, i) =>
        i === 0 ? { status, headers: { "retry-after": "1" } } : { status: 200 },
      );
      const { delivery, atts } = await deliverOnce(rx.url, [50, 50]);
      expect(delivery.status).toBe("succeeded");
      expect(atts.map((a) => a.statusCode)).toEqual([status, 200]);
      expect(gaps(rx.requests)[0]).toBeGreaterThanOrEqual(1_000);
    },
  );

  test.each([429, 503])("%i with Retry-After as an HTTP-date: no retry before that date", async (status) => {
    let retryAt = 0;
    const rx = await receiver((_r, i) => {
      if (i > 0) return { status: 200 };
      // HTTP-dates have whole seconds: the next whole second at least 1 s away.
      retryAt = Math.ceil((Date.now() + 1_000) / 1_000) * 1_000;
      return { status, headers: { "retry-after": new Date(retryAt).toUTCString() } };
    });
    const { delivery } = await deliverOnce(rx.url, [50, 50]);
    expect(delivery.status).toBe("succeeded");
    expect(rx.requests).toHaveLength(2);
    expect(rx.requests[1]?.at).toBeGreaterThanOrEqual(retryAt);
  });

  test("a Retry-After beyond the maximum is clamped to it", async () => {
    const rx = await receiver((_r, i) =>
      i === 0 ? { status: 503, headers: { "retry-after": "3600" } } : { status: 200 },
    );
    const { delivery } = await deliverOnce(rx.url, [50]);
    expect(delivery.status).toBe("succeeded");
    const [gap] = gaps(rx.requests);
    expect(gap).toBeGreaterThanOrEqual(RETRY_AFTER_MAX_MS);
    expect(gap).toBeLessThan(RETRY_AFTER_MAX_MS + 5_000);
  });

  test.each(["soon", "abc 2099", "-1", "1.5", "Thu, 99 Foo 2099 00:00:00 GMT"])(
    "a garbage Retry-After (%j) is ignored: the schedule applies",
    async (value) => {
      const rx = await receiver((_r, i) =>
        i === 0 ? { status: 429, headers: { "retry-after": value } } : { status: 200 },
      );
      const { delivery } = await deliverOnce(rx.url, [50]);
      expect(delivery.status).toBe("succeeded");
      const [gap] = gaps(rx.requests);
      expect(gap).toBeGreaterThanOrEqual(50);
      // Had it been read as a date or number, the clamp (2.5 s) would have applied.
      expect(gap).toBeLessThan(RETRY_AFTER_MAX_MS);
    },
  );

  test("Retry-After shorter than the schedule does not bring the retry forward", async () => {
    const rx = await receiver((_r, i) =>
      i === 0 ? { status: 429, headers: { "retry-after": "0" } } : { status: 200 },
    );
    await deliverOnce(rx.url, [700]);
    expect(gaps(rx.requests)[0]).toBeGreaterThanOrEqual(700);
  });
});

describe("failures are retried on the schedule", () => {
  test("3 delays: exactly 4 requests, gaps at least the delays, first delay first, then dead", async () => {
    const schedule = [300, 100, 200];
    const rx = await receiver(() => ({ status: 500, body: "boom" }));
    const { delivery, atts } = await deliverOnce(rx.url, schedule);
    expect(delivery).toMatchObject({ status: "dead", attemptCount: 4, lastStatusCode: 500 });
    expect(delivery.lastError).toBe("HTTP 500");
    expect(atts.map((a) => [a.number, a.outcome, a.statusCode, a.errorClass, a.responseBody])).toEqual([
      [1, "failed", 500, "http_error", "boom"],
      [2, "failed", 500, "http_error", "boom"],
      [3, "failed", 500, "http_error", "boom"],
      [4, "failed", 500, "http_error", "boom"],
    ]);
    const g = gaps(rx.requests);
    for (const [i, gap] of g.entries()) expect(gap).toBeGreaterThanOrEqual(schedule[i] as number);
    await pause(500);
    expect(rx.requests).toHaveLength(4);
  });

  test("without an override the configured default schedule applies (2 delays → 3 requests)", async () => {
    const rx = await receiver(() => ({ status: 500 }));
    const { delivery } = await deliverOnce(rx.url);
    expect(delivery).toMatchObject({ status: "dead", attemptCount: 3 });
    expect(rx.requests).toHaveLength(3);
    expect(gaps(rx.requests)[1]).toBeGreaterThanOrEqual(100);
  });

  test("a failure then a success ends succeeded", async () => {
    const rx = await receiver((_r, i) => (i === 0 ? { status: 500 } : { status: 200 }));
    const { delivery } = await deliverOnce(rx.url, [50, 50, 50]);
    expect(delivery).toMatchObject({ status: "succeeded", attemptCount: 2, lastError: null });
  });

  test("timeout: a hanging receiver is cut at DELIVERY_TIMEOUT and retried", async () => {
    const rx = await receiver(() => "hang");
    const { delivery, atts } = await deliverOnce(rx.url, [50]);
    expect(delivery).toMatchObject({ status: "dead", attemptCount: 2 });
    for (const a of atts) {
      expect(a).toMatchObject({ outcome: "failed", errorClass: "timeout", statusCode: null });
      expect(a.durationMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
      expect(a.durationMs).toBeLessThan(TIMEOUT_MS + 2_000);
    }
    expect(rx.requests).toHaveLength(2);
  });

  test("connection refused: a closed port", async () => {
    const port = await new Promise<number>((resolve) => {
      const s = http.createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const { delivery, atts } = await deliverOnce(`http://127.0.0.1:${port}/hook`, [50]);
    expect(delivery).toMatchObject({ status: "dead", attemptCount: 2 });
    expect(atts.map((a) => a.errorClass)).toEqual(["connection_refused", "connection_refused"]);
    expect(atts[0]?.errorMessage).toContain("ECONNREFUSED");
  });

  test("reset: the receiver destroys the socket", async () => {
    const rx = await receiver((_r, i) => (i === 0 ? "reset" : { status: 200 }));
    const { delivery, atts } = await deliverOnce(rx.url, [50]);
    expect(delivery.status).toBe("succeeded");
    expect(atts.map((a) => [a.outcome, a.errorClass])).toEqual([
      ["failed", "reset"],
      ["succeeded", null],
    ]);
  });

  test("DNS failure: the name does not resolve", async () => {
    const { delivery, atts } = await deliverOnce("http://nx.signalpost.test:9/hook", [50]);
    expect(delivery).toMatchObject({ status: "dead", attemptCount: 2 });
    expect(atts.map((a) => [a.outcome, a.errorClass])).toEqual([
      ["failed", "dns"],
      ["failed", "dns"],
    ]);
    expect(atts[0]?.errorMessage).toBe("could not resolve nx.signalpost.test: ENOTFOUND");
    expect(resolved.filter((h) => h === "nx.signalpost.test")).toHaveLength(2);
  });
});
