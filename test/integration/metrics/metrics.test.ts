import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { insertEvents } from "../../../src/services/events/insert.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { startReceiver } from "../../helpers/receiver.ts";
import { eventually, makeEndpoint, makeTenant } from "../maintenance/fixtures.ts";

/** The value of one sample line (`name{labels} value`), or null when absent. */
function sample(text: string, line: string): number | null {
  const hit = text.split("\n").find((l) => l.startsWith(`${line} `));
  return hit ? Number(hit.slice(line.length + 1)) : null;
}

describe("GET /metrics (open)", () => {
  let t: TestApp;
  let rx: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    rx = await startReceiver((r) => (r.url.includes("fail") ? { status: 500 } : { status: 204 }));
    t = await startTestApp({ env: { MAINTENANCE_CRON: "0 0 1 1 *" } });
    // A parameterised route, to check the label is the pattern and not the raw path.
    t.app.get("/test-metrics/items/:id", (c) => c.json({ id: c.req.param("id") }));
  });
  afterAll(async () => {
    await t?.close();
    await rx?.close();
  });

  test("serves Prometheus text with queue, circuit and endpoint gauges read on scrape", async () => {
    const tenantId = await makeTenant(t.deps);
    await makeEndpoint(t.deps, tenantId, `${rx.url}?off`, { disabled: true });
    const res = await t.request("GET", "/metrics", { token: null });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(sample(res.text, 'signalpost_queue_jobs{queue="deliver",state="queued"}')).toBe(0);
    expect(sample(res.text, 'signalpost_queue_jobs{queue="fanout",state="active"}')).toBe(0);
    expect(sample(res.text, "signalpost_endpoints_disabled")).toBe(1);
    expect(sample(res.text, "signalpost_endpoint_circuits_open")).toBe(0);
    expect(res.text).toContain("signalpost_process_resident_memory_bytes");
  });

  test("counts attempts by outcome, their durations, finished deliveries and publish→first-attempt latency", async () => {
    const tenantId = await makeTenant(t.deps);
    await makeEndpoint(t.deps, tenantId, `${rx.url}?ok`);
    await makeEndpoint(t.deps, tenantId, `${rx.url}?fail`);
    await t.deps.db.transaction((tx) =>
      insertEvents(t.deps, tx, [{ type: "webhook.test", tenantId, data: { n: 1 } }]),
    );
    // ok: 1 attempt; fail: 3 attempts (schedule 50ms,100ms) then dead.
    await rx.waitFor(4);
    const text = await eventually(async () => {
      const r = await t.request("GET", "/metrics", { token: null });
      return sample(r.text, 'signalpost_deliveries_finished_total{status="dead"}') === 1 ? r.text : null;
    });
    expect(sample(text, 'signalpost_delivery_attempts_total{outcome="succeeded"}')).toBe(1);
    expect(sample(text, 'signalpost_delivery_attempts_total{outcome="failed"}')).toBe(3);
    expect(sample(text, 'signalpost_deliveries_finished_total{status="succeeded"}')).toBe(1);
    expect(sample(text, 'signalpost_delivery_attempt_duration_seconds_count{outcome="failed"}')).toBe(3);
    // Only first attempts count towards publish latency: one per delivery.
    expect(sample(text, "signalpost_publish_to_first_attempt_seconds_count")).toBe(2);
    const sum = sample(text, "signalpost_publish_to_first_attempt_seconds_sum") ?? -1;
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThan(20);
  });

  test("API request durations are labelled by route pattern and status, never by raw path", async () => {
    await t.request("GET", "/test-metrics/items/abc", { token: null });
    await t.request("GET", "/test-metrics/items/def", { token: null });
    await t.request("GET", "/no/such/route", { token: null });
    await t.request("GET", "/v1/anything", { token: null }); // 401 before any handler
    const { text } = await t.request("GET", "/metrics", { token: null });
    expect(
      sample(
        text,
        'signalpost_http_request_duration_seconds_count{method="GET",route="/test-metrics/items/:id",status="200"}',
      ),
    ).toBe(2);
    expect(
      sample(
        text,
        'signalpost_http_request_duration_seconds_count{method="GET",route="unmatched",status="404"}',
      ),
    ).toBe(1);
    expect(text).not.toContain("/test-metrics/items/abc");
    expect(text).not.toContain("/no/such/route");
  });

  test("each Deps has its own registry", async () => {
    const other = await startTestApp({ workers: false, database: t.db });
    try {
      expect(other.deps.metrics.registry).not.toBe(t.deps.metrics.registry);
      const { text } = await other.request("GET", "/metrics", { token: null });
      expect(sample(text, 'signalpost_delivery_attempts_total{outcome="succeeded"}')).toBeNull();
    } finally {
      await other.close();
    }
  });

  test("a disabled endpoint row counts; deleted ones do not", async () => {
    const before =
      sample((await t.request("GET", "/metrics", { token: null })).text, "signalpost_endpoints_disabled") ??
      -1;
    const tenantId = await makeTenant(t.deps);
    await makeEndpoint(t.deps, tenantId, rx.url, { disabled: true, deletedAt: new Date() });
    const after = sample(
      (await t.request("GET", "/metrics", { token: null })).text,
      "signalpost_endpoints_disabled",
    );
    expect(after).toBe(before);
  });
});

describe("GET /metrics guarded or off", () => {
  test("METRICS_TOKEN requires that bearer token", async () => {
    const t = await startTestApp({ workers: false, env: { METRICS_TOKEN: "m".repeat(32) } });
    try {
      expect((await t.request("GET", "/metrics", { token: null })).status).toBe(401);
      expect((await t.request("GET", "/metrics", { token: "m".repeat(31) + "x" })).status).toBe(401);
      const ok = await t.request("GET", "/metrics", { token: "m".repeat(32) });
      expect(ok.status).toBe(200);
      expect(ok.text).toContain("signalpost_queue_jobs");
    } finally {
      await t.close();
    }
  });

  test("METRICS_ENABLED=false answers 404", async () => {
    const t = await startTestApp({ workers: false, env: { METRICS_ENABLED: "false" } });
    try {
      const res = await t.request("GET", "/metrics", { token: null });
      expect(res.status).toBe(404);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
    } finally {
      await t.close();
    }
  });
});
