import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { auditLog } from "../../../db/schema/index.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { startReceiver } from "../../helpers/receiver.ts";
import { deliveryRow, eventually, makeDelivery, makeEndpoint, makeTenant } from "./fixtures.ts";

let t: TestApp;
let rx: Awaited<ReturnType<typeof startReceiver>>;
let tenantId: string;
let tenantToken: string;
beforeAll(async () => {
  rx = await startReceiver(() => ({ status: 200 }));
  t = await startTestApp({ env: { MAINTENANCE_CRON: "0 0 1 1 *", RECOVER_MAX_WINDOW: "14d" } });
  tenantId = await makeTenant(t.deps);
  const key = await t.request("POST", "/v1/api-keys", {
    body: { name: "tenant", tenantId, scopes: ["deliveries:read", "deliveries:write", "endpoints:read"] },
  });
  expect(key.status).toBe(201);
  tenantToken = key.body.token;
});
afterAll(async () => {
  await t?.close();
  await rx?.close();
});

const recover = (endpointId: string, body: unknown, token: string | null = tenantToken) =>
  t.request("POST", `/v1/endpoints/${endpointId}/recover`, { token, body });

describe("POST /v1/endpoints/{id}/recover", () => {
  test("re-sends dead and cancelled deliveries created since the time, as a job, reporting progress", async () => {
    const ep = await makeEndpoint(t.deps, tenantId, `${rx.url}?recover`);
    const before = await makeDelivery(t.deps, ep.id, tenantId, { status: "dead" });
    await new Promise((r) => setTimeout(r, 20));
    const since = new Date();
    await new Promise((r) => setTimeout(r, 5));
    const dead1 = await makeDelivery(t.deps, ep.id, tenantId, { status: "dead", attemptCount: 3 });
    const dead2 = await makeDelivery(t.deps, ep.id, tenantId, { status: "dead", attemptCount: 3 });
    const cancelled = await makeDelivery(t.deps, ep.id, tenantId, { status: "cancelled" });
    const ok = await makeDelivery(t.deps, ep.id, tenantId, { status: "succeeded", attemptCount: 1 });

    const res = await recover(ep.id, { since: since.toISOString() });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ endpointId: ep.id, status: "queued", redriven: 0, total: null });
    expect(res.headers.get("location")).toBe(`/v1/endpoints/${ep.id}/recover/${res.body.id}`);

    const done = await eventually(async () => {
      const g = await t.request("GET", `/v1/endpoints/${ep.id}/recover/${res.body.id}`, {
        token: tenantToken,
      });
      return g.body.status === "completed" ? g.body : null;
    });
    expect(done).toMatchObject({ total: 3, redriven: 3, error: null });
    expect(done.startedAt).toEqual(expect.any(String));
    expect(done.finishedAt).toEqual(expect.any(String));

    const sent = await rx.waitFor(3);
    const ids = sent.filter((r) => r.url.includes("?recover")).map((r) => r.headers["webhook-id"]);
    expect(ids.sort()).toEqual([dead1.eventId, dead2.eventId, cancelled.eventId].sort());
    for (const d of [dead1, dead2, cancelled])
      await eventually(async () => (await deliveryRow(t.deps, d.deliveryId)).status === "succeeded");
    // A fresh cycle: the dead ones keep their earlier attempts and add one.
    expect((await deliveryRow(t.deps, dead1.deliveryId)).attemptCount).toBe(4);
    expect((await deliveryRow(t.deps, before.deliveryId)).status).toBe("dead");
    expect((await deliveryRow(t.deps, ok.deliveryId)).attemptCount).toBe(1);

    const audit = await t.deps.db.select().from(auditLog).where(eq(auditLog.targetId, ep.id));
    expect(audit.map((a) => a.action)).toContain("endpoint.recover");
  });

  test("409 while the endpoint is disabled", async () => {
    const ep = await makeEndpoint(t.deps, tenantId, rx.url, { disabled: true });
    const res = await recover(ep.id, { since: new Date(Date.now() - 60_000).toISOString() });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ type: "/problems/conflict", status: 409 });
  });

  const day = 86_400_000;
  test.each([
    ["future since", { since: new Date(Date.now() + day).toISOString() }, "body.since"],
    ["since beyond the window", { since: new Date(Date.now() - 15 * day).toISOString() }, "body.since"],
    ["since not a date", { since: "yesterday" }, "body.since"],
    ["since missing", {}, "body.since"],
    ["unknown field", { since: new Date().toISOString(), all: true }, "body"],
  ])("400 for %s", async (_name, body, path) => {
    const ep = await makeEndpoint(t.deps, tenantId, rx.url);
    const res = await recover(ep.id, body);
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(res.body).toMatchObject({ type: "/problems/validation_failed", status: 400 });
    expect(res.body.errors.map((e: { path: string }) => e.path).join(",")).toContain(path);
  });

  test("another tenant's endpoint is 404, not 403; so is an unknown run", async () => {
    const otherTenant = await makeTenant(t.deps);
    const foreign = await makeEndpoint(t.deps, otherTenant, rx.url);
    const res = await recover(foreign.id, { since: new Date(Date.now() - 60_000).toISOString() });
    expect(res.status).toBe(404);
    const mine = await makeEndpoint(t.deps, tenantId, rx.url);
    const started = await recover(mine.id, { since: new Date(Date.now() - 60_000).toISOString() });
    expect(started.status).toBe(202);
    // The run exists, but not under the other tenant's endpoint id, nor under an unknown one.
    expect(
      (
        await t.request("GET", `/v1/endpoints/${foreign.id}/recover/${started.body.id}`, {
          token: tenantToken,
        })
      ).status,
    ).toBe(404);
    expect(
      (await t.request("GET", `/v1/endpoints/${mine.id}/recover/job_nope`, { token: tenantToken })).status,
    ).toBe(404);
  });

  test("401 without credentials, 403 without the deliveries:write scope", async () => {
    const ep = await makeEndpoint(t.deps, tenantId, rx.url);
    expect((await recover(ep.id, { since: new Date().toISOString() }, null)).status).toBe(401);
    const readOnly = await t.request("POST", "/v1/api-keys", {
      body: { name: "ro", tenantId, scopes: ["deliveries:read"] },
    });
    const res = await recover(ep.id, { since: new Date().toISOString() }, readOnly.body.token);
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ type: "/problems/forbidden" });
  });
});
