import { and, eq } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { auditLog, deliveries, endpointSecrets, endpoints } from "../../../db/schema/index.ts";
import { generateSecret } from "../../../src/delivery/sign.ts";
import { startTestApp, type TestApp, type TestResponse } from "../../helpers/app.ts";
import { publish, settledDelivery, waitUntil } from "../../helpers/fixtures.ts";
import { problem } from "../../helpers/problems.ts";
import { type Received, startReceiver } from "../../helpers/receiver.ts";
import { createKey, createTenantWithKey, type TestKey, unusedId } from "../../helpers/security.ts";

/** Retries every 200 ms (three of them), so mid-retry changes can be observed quickly. */
const SCHEDULE = "200ms,200ms,200ms";

let t: TestApp;
let a: TestKey & { tenantId: string };
let b: TestKey & { tenantId: string };
beforeAll(async () => {
  t = await startTestApp({ env: { DELIVERY_RETRY_SCHEDULE: SCHEDULE, CIRCUIT_FAILURE_THRESHOLD: "10000" } });
  a = await createTenantWithKey(t.deps.db);
  b = await createTenantWithKey(t.deps.db);
});
afterAll(async () => {
  await t?.close();
});

/** A tenant of its own, so a publish to it fans out to the endpoints of one test only. */
const freshTenant = () => createTenantWithKey(t.deps.db);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The exact problem body, with the per-request fields matched loosely. */

const invalidBody = (errors: unknown[]) =>
  problem(400, "validation_failed", "Validation failed", "the request body is invalid", errors);
const badUrl = (message: string) =>
  problem(400, "validation_failed", "Validation failed", "the endpoint URL is not allowed", [
    { path: "body.url", message, code: "invalid_url" },
  ]);

async function createAs(key: TestKey, body: Record<string, unknown>): Promise<TestResponse> {
  return t.request("POST", "/v1/endpoints", { token: key.token, body });
}

async function created(key: TestKey, body: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  const res = await createAs(key, body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

function verifyWith(secret: string, req: Received | undefined): unknown {
  if (!req) throw new Error("no request");
  return new Webhook(secret).verify(req.body.toString("utf8"), {
    "webhook-id": String(req.headers["webhook-id"]),
    "webhook-timestamp": String(req.headers["webhook-timestamp"]),
    "webhook-signature": String(req.headers["webhook-signature"]),
  });
}

describe("happy paths", () => {
  test("create → 201 with the secret once; stored encrypted; sensitive header values masked on read", async () => {
    const res = await createAs(a, {
      url: "https://partner.example.com/hooks",
      description: "prod",
      eventTypes: ["signal.changed", "grade.*"],
      symbols: ["btc", "BTC", "eth"],
      headers: { Authorization: "Bearer s3cr3t-value", "X-Api-Key": "k-123", "X-Partner": "acme" },
      metadata: { team: "quant" },
      rateLimitPerSecond: 10,
      maxConcurrency: 4,
      retrySchedule: [1000, 60000],
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^ep_[0-9A-Z]{26}$/),
      tenantId: a.tenantId,
      url: "https://partner.example.com/hooks",
      description: "prod",
      eventTypes: ["signal.changed", "grade.*"],
      symbols: ["BTC", "ETH"],
      headers: { authorization: "********", "x-api-key": "********", "x-partner": "acme" },
      metadata: { team: "quant" },
      disabled: false,
      disabledReason: null,
      rateLimitPerSecond: 10,
      maxConcurrency: 4,
      retrySchedule: [1000, 60000],
      failingSince: null,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]+=*$/),
    });
    const { id, secret } = res.body;
    expect(Buffer.from(secret.slice(6), "base64").length).toBeGreaterThanOrEqual(24);

    const get = await t.request("GET", `/v1/endpoints/${id}`, { token: a.token });
    expect(get.status).toBe(200);
    const { secret: _s, ...withoutSecret } = res.body;
    expect(get.body).toEqual(withoutSecret);
    expect(get.text).not.toContain("s3cr3t-value");
    expect(get.text).not.toContain(secret);

    // Stored: header values in clear (they must be sent), the secret only as ciphertext.
    const [row] = await t.deps.db.select().from(endpoints).where(eq(endpoints.id, id));
    expect(row?.headers).toEqual({
      authorization: "Bearer s3cr3t-value",
      "x-api-key": "k-123",
      "x-partner": "acme",
    });
    const secrets = await t.deps.db.select().from(endpointSecrets).where(eq(endpointSecrets.endpointId, id));
    expect(secrets).toHaveLength(1);
    expect(secrets[0]?.ciphertext).not.toContain(secret.slice(6));
    expect(t.deps.keyring.decrypt(secrets[0]?.keyId ?? "", secrets[0]?.ciphertext ?? "")).toBe(secret);

    const sec = await t.request("GET", `/v1/endpoints/${id}/secret`, { token: a.token });
    expect(sec.status).toBe(200);
    expect(sec.body).toEqual({ secret, createdAt: expect.any(String), previous: [] });

    // The audit row names fields and header names, never values or the secret.
    const [audit] = await t.deps.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.targetId, id), eq(auditLog.action, "endpoint.create")));
    expect(audit).toMatchObject({ actorId: a.id, actorRole: "tenant", tenantId: a.tenantId });
    const details = JSON.stringify(audit?.details);
    for (const leak of [secret, "s3cr3t-value", "k-123", "acme"]) expect(details).not.toContain(leak);
  });

  test("symbols filters take every symbol signals take (BTC/USD, NASDAQ:AAPL); events without a symbol pass", async () => {
    const ep = await created(a, { url: "http://127.0.0.1:9/hook", symbols: ["btc/usd", "NASDAQ:AAPL"] });
    const read = await t.request("GET", `/v1/endpoints/${ep.id}`, { token: a.token });
    expect(read.body.symbols).toEqual(["BTC/USD", "NASDAQ:AAPL"]);
    const evs = [
      await publish(t, "webhook.test", { n: 0 }, { tenantId: a.tenantId, symbol: "btc/usd" }),
      await publish(t, "webhook.test", { n: 1 }, { tenantId: a.tenantId, symbol: "nasdaq:aapl" }),
      await publish(t, "webhook.test", { n: 3 }, { tenantId: a.tenantId, symbol: "ETH/USD" }),
      // No symbol: a symbol filter does not apply to it (as for events about no instrument).
      await publish(t, "webhook.test", { n: 2 }, { tenantId: a.tenantId }),
    ];
    const got = await t.deps.db.select().from(deliveries).where(eq(deliveries.endpointId, ep.id));
    expect(new Set(got.map((d) => d.eventId))).toEqual(new Set([evs[0]?.id, evs[1]?.id, evs[3]?.id]));
  });

  test("a caller-supplied secret is used as given", async () => {
    const secret = generateSecret();
    const ep = await created(a, { url: "https://partner.example.com/own", secret });
    expect(ep.secret).toBe(secret);
    expect((await t.request("GET", `/v1/endpoints/${ep.id}/secret`, { token: a.token })).body.secret).toBe(
      secret,
    );
  });

  test("operators create for a named tenant; tenants cannot name another tenant", async () => {
    const ep = await created(
      { id: "op", token: t.operatorToken, tenantId: null },
      {
        tenantId: a.tenantId,
        url: "https://partner.example.com/by-operator",
      },
    );
    expect((await t.request("GET", `/v1/endpoints/${ep.id}`, { token: a.token })).status).toBe(200);
    expect(
      (await t.request("POST", "/v1/endpoints", { body: { url: "https://x.example.com/" } })).body,
    ).toEqual(
      invalidBody([
        {
          path: "body.tenantId",
          message: "operators must name the tenant that owns the endpoint",
          code: "required",
        },
      ]),
    );
    const unknownTenant = unusedId("ten");
    expect(
      (
        await t.request("POST", "/v1/endpoints", {
          body: { tenantId: unknownTenant, url: "https://x.example.com/" },
        })
      ).body,
    ).toEqual(problem(404, "not_found", "Not found", `tenant ${unknownTenant} was not found`));
    const other = await createAs(a, { tenantId: b.tenantId, url: "https://x.example.com/" });
    expect(other.body).toEqual(problem(404, "not_found", "Not found", `tenant ${b.tenantId} was not found`));
  });

  test("list: newest first, cursor pagination, disabled filter, tenant-scoped", async () => {
    const c = await createTenantWithKey(t.deps.db);
    const e1 = await created(c, { url: "https://x.example.com/1" });
    const e2 = await created(c, { url: "https://x.example.com/2", disabled: true });
    const e3 = await created(c, { url: "https://x.example.com/3" });
    const p1 = await t.request("GET", "/v1/endpoints?limit=2", { token: c.token });
    expect(p1.status).toBe(200);
    expect(p1.body.data.map((e: { id: string }) => e.id)).toEqual([e3.id, e2.id]);
    expect(p1.body).toMatchObject({ hasMore: true, nextCursor: e2.id });
    const p2 = await t.request("GET", `/v1/endpoints?limit=2&cursor=${p1.body.nextCursor}`, {
      token: c.token,
    });
    expect(p2.body).toEqual({
      data: [expect.objectContaining({ id: e1.id })],
      hasMore: false,
      nextCursor: null,
    });
    const disabled = await t.request("GET", "/v1/endpoints?disabled=true", { token: c.token });
    expect(disabled.body.data.map((e: { id: string }) => e.id)).toEqual([e2.id]);
    expect(disabled.body.data[0]).toMatchObject({ disabled: true, disabledReason: "created disabled" });
    const enabled = await t.request("GET", "/v1/endpoints?disabled=false", { token: c.token });
    expect(enabled.body.data.map((e: { id: string }) => e.id)).toEqual([e3.id, e1.id]);
    const asOperator = await t.request("GET", `/v1/endpoints?tenantId=${c.tenantId}&limit=100`);
    expect(asOperator.body.data).toHaveLength(3);
    // The tenantId filter cannot widen a tenant's view.
    const widened = await t.request("GET", `/v1/endpoints?tenantId=${a.tenantId}&limit=100`, {
      token: c.token,
    });
    expect(widened.body.data.map((e: { tenantId: string }) => e.tenantId)).toEqual([
      c.tenantId,
      c.tenantId,
      c.tenantId,
    ]);
  });

  test("update every field; a masked header sent back keeps its stored value", async () => {
    const ep = await created(a, {
      url: "https://partner.example.com/u",
      headers: { authorization: "Bearer keep-me", "x-team": "a" },
    });
    const res = await t.request("PATCH", `/v1/endpoints/${ep.id}`, {
      token: a.token,
      body: {
        url: "https://partner.example.com/u2",
        description: "changed",
        eventTypes: null,
        symbols: ["sol"],
        headers: { authorization: "********", "x-team": "b" },
        metadata: { k: "v" },
        rateLimitPerSecond: 1000,
        maxConcurrency: 64,
        retrySchedule: [],
      },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      url: "https://partner.example.com/u2",
      description: "changed",
      eventTypes: null,
      symbols: ["SOL"],
      headers: { authorization: "********", "x-team": "b" },
      metadata: { k: "v" },
      rateLimitPerSecond: 1000,
      maxConcurrency: 64,
      retrySchedule: [],
    });
    const [row] = await t.deps.db.select().from(endpoints).where(eq(endpoints.id, ep.id));
    expect(row?.headers).toEqual({ authorization: "Bearer keep-me", "x-team": "b" });
    const [audit] = await t.deps.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.targetId, ep.id), eq(auditLog.action, "endpoint.update")));
    expect(audit?.details).toMatchObject({
      fields: [
        "description",
        "eventTypes",
        "headers",
        "maxConcurrency",
        "metadata",
        "rateLimitPerSecond",
        "retrySchedule",
        "symbols",
        "url",
      ],
    });
    expect(JSON.stringify(audit?.details)).not.toContain("keep-me");
  });

  test("disable cancels pending deliveries; enable clears the reason and the failure streak", async () => {
    const f = await freshTenant();
    const rx = await startReceiver(() => ({ status: 500 }));
    const ep = await created(f, { url: rx.url, retrySchedule: [60_000] });
    const ev = await publish(t, "webhook.test", { n: 1 }, { tenantId: f.tenantId });
    await rx.waitFor(1);
    await waitUntil(async () => {
      const [d] = await t.deps.db.select().from(deliveries).where(eq(deliveries.eventId, ev.id));
      return d && d.attemptCount === 1 && d.nextAttemptAt ? d : null;
    });
    const off = await t.request("PATCH", `/v1/endpoints/${ep.id}`, {
      token: f.token,
      body: { disabled: true },
    });
    expect(off.body).toMatchObject({ disabled: true, disabledReason: "disabled by API" });
    expect(off.body.failingSince).toEqual(expect.any(String));
    const [d] = await t.deps.db.select().from(deliveries).where(eq(deliveries.eventId, ev.id));
    expect(d).toMatchObject({ status: "cancelled", nextAttemptAt: null });
    const on = await t.request("PATCH", `/v1/endpoints/${ep.id}`, {
      token: f.token,
      body: { disabled: false },
    });
    expect(on.body).toMatchObject({ disabled: false, disabledReason: null, failingSince: null });
    await rx.close();
  });

  test("delete → 204, then 404 everywhere, gone from the list; the row stays with deletedAt", async () => {
    const ep = await created(a, { url: "https://partner.example.com/del" });
    const del = await t.request("DELETE", `/v1/endpoints/${ep.id}`, { token: a.token });
    expect(del.status).toBe(204);
    expect(del.text).toBe("");
    const gone = problem(404, "not_found", "Not found", `endpoint ${ep.id} was not found`);
    expect((await t.request("GET", `/v1/endpoints/${ep.id}`, { token: a.token })).body).toEqual(gone);
    expect((await t.request("DELETE", `/v1/endpoints/${ep.id}`, { token: a.token })).body).toEqual(gone);
    expect((await t.request("GET", `/v1/endpoints/${ep.id}/secret`, { token: a.token })).body).toEqual(gone);
    const list = await t.request("GET", "/v1/endpoints?limit=100", { token: a.token });
    expect(list.body.data.map((e: { id: string }) => e.id)).not.toContain(ep.id);
    const [row] = await t.deps.db.select().from(endpoints).where(eq(endpoints.id, ep.id));
    expect(row?.deletedAt).toBeInstanceOf(Date);
    const actions = await t.deps.db.select().from(auditLog).where(eq(auditLog.targetId, ep.id));
    expect(actions.map((r) => r.action).sort()).toEqual(["endpoint.create", "endpoint.delete"]);
  });

  test("send test event: one signed webhook.test to this endpoint only", async () => {
    const rx = await startReceiver();
    const bystander = await startReceiver();
    const ep = await created(a, { url: rx.url });
    await created(a, { url: bystander.url });
    const res = await t.request("POST", `/v1/endpoints/${ep.id}/test`, { token: a.token });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({
      eventId: expect.stringMatching(/^evt_/),
      deliveryId: expect.stringMatching(/^dlv_/),
    });
    const [req] = await rx.waitFor(1);
    expect(req?.headers["webhook-id"]).toBe(res.body.eventId);
    expect(verifyWith(ep.secret, req)).toMatchObject({ type: "webhook.test", data: { endpointId: ep.id } });
    const d = await settledDelivery(t, res.body.eventId, ep.id);
    expect(d).toMatchObject({ id: res.body.deliveryId, status: "succeeded", tenantId: a.tenantId });
    await sleep(300);
    expect(bystander.requests).toHaveLength(0);
    const rows = await t.deps.db.select().from(deliveries).where(eq(deliveries.eventId, res.body.eventId));
    expect(rows).toHaveLength(1);

    // A named catalog type is sent with its catalog example.
    const typed = await t.request("POST", `/v1/endpoints/${ep.id}/test`, {
      token: a.token,
      body: { eventType: "signal.changed" },
    });
    expect(typed.status).toBe(202);
    const [, second] = await rx.waitFor(2);
    expect(verifyWith(ep.secret, second)).toMatchObject({ type: "signal.changed", data: { symbol: "BTC" } });
    expect(
      (
        await t.request("POST", `/v1/endpoints/${ep.id}/test`, {
          token: a.token,
          body: { eventType: "nope.none" },
        })
      ).body,
    ).toEqual(
      problem(422, "unprocessable", "Unprocessable request", "unknown event type: nope.none", [
        {
          path: "body.eventType",
          message: "nope.none is not in the event type catalog",
          code: "unknown_event_type",
        },
      ]),
    );
    await t.request("PATCH", `/v1/endpoints/${ep.id}`, { token: a.token, body: { disabled: true } });
    expect((await t.request("POST", `/v1/endpoints/${ep.id}/test`, { token: a.token })).body).toEqual(
      problem(409, "conflict", "Conflict", `endpoint ${ep.id} is disabled; enable it first`),
    );
    const audits = await t.deps.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.targetId, ep.id), eq(auditLog.action, "endpoint.test")));
    expect(audits).toHaveLength(2);
    await rx.close();
    await bystander.close();
  });

  test("stats: deliveries by status, attempts by outcome, latency percentiles", async () => {
    let n = 0;
    const rx = await startReceiver(() => (n++ === 0 ? { status: 500 } : { status: 200 }));
    const ep = await created(a, { url: rx.url, retrySchedule: [10] });
    const first = await t.request("POST", `/v1/endpoints/${ep.id}/test`, { token: a.token });
    await settledDelivery(t, first.body.eventId, ep.id);
    const second = await t.request("POST", `/v1/endpoints/${ep.id}/test`, { token: a.token });
    await settledDelivery(t, second.body.eventId, ep.id);
    const res = await t.request("GET", `/v1/endpoints/${ep.id}/stats`, { token: a.token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      endpointId: ep.id,
      deliveries: { pending: 0, succeeded: 2, dead: 0, cancelled: 0 },
      attempts: { total: 3, succeeded: 2, failed: 1, blocked: 0 },
    });
    const { p50, p95, p99 } = res.body.latencyMs;
    for (const p of [p50, p95, p99]) expect(typeof p).toBe("number");
    expect(p50).toBeLessThanOrEqual(p95);
    expect(p95).toBeLessThanOrEqual(p99);
    const future = new Date(Date.now() + 60_000).toISOString();
    const empty = await t.request("GET", `/v1/endpoints/${ep.id}/stats?since=${future}`, { token: a.token });
    expect(empty.body).toMatchObject({
      deliveries: { pending: 0, succeeded: 0, dead: 0, cancelled: 0 },
      attempts: { total: 0 },
      latencyMs: { p50: null, p95: null, p99: null },
    });
    await rx.close();
  });
});

describe("bad input", () => {
  const url = "https://partner.example.com/hook";
  const cases: [string, unknown, unknown][] = [
    ["ftp scheme", { url: "ftp://example.com/x" }, badUrl("the ftp scheme is not allowed; use https")],
    ["file scheme", { url: "file:///etc/passwd" }, badUrl("the file scheme is not allowed; use https")],
    [
      "javascript scheme",
      { url: "javascript:alert(1)" },
      badUrl("the javascript scheme is not allowed; use https"),
    ],
    ["data scheme", { url: "data:text/plain,hi" }, badUrl("the data scheme is not allowed; use https")],
    ["not a URL", { url: "partner.example.com" }, badUrl("not a valid absolute URL")],
    ["port 0", { url: "https://partner.example.com:0/hooks" }, badUrl("port 0 cannot be connected to")],
    [
      "a #fragment",
      { url: "https://partner.example.com/hooks#x" },
      badUrl("must not have a #fragment (it is never sent)"),
    ],
    [
      "10,000-character URL",
      { url: `https://example.com/${"a".repeat(10_000)}` },
      invalidBody([{ path: "body.url", message: "must be at most 2048 characters", code: "too_big" }]),
    ],
    [
      "loopback outside the allowlist",
      { url: "http://127.0.0.2/" },
      badUrl("the address 127.0.0.2 is in a blocked range (ipv4 loopback)"),
    ],
    [
      "IPv6 loopback",
      { url: "http://[::1]/" },
      badUrl("the address ::1 is in a blocked range (ipv6 loopback)"),
    ],
    [
      "integer spelling of 127.0.0.2",
      { url: "http://2130706434/" },
      badUrl("the address 127.0.0.2 is in a blocked range (ipv4 loopback)"),
    ],
    [
      "cloud metadata address",
      { url: "http://169.254.169.254/latest" },
      badUrl("the address 169.254.169.254 is in a blocked range (ipv4 linkLocal)"),
    ],
    [
      "credentials in the URL",
      { url: "https://user:pw@example.com/" },
      badUrl("URLs must not carry credentials; use custom headers instead"),
    ],
    [
      "reserved header webhook-signature",
      { url, headers: { "webhook-signature": "v1,forged" } },
      invalidBody([
        {
          path: "body.headers.webhook-signature",
          message: "is reserved: signing and transport headers cannot be overridden",
          code: "custom",
        },
      ]),
    ],
    [
      "reserved header Host",
      { url, headers: { Host: "internal.example" } },
      invalidBody([
        {
          path: "body.headers.Host",
          message: "is reserved: signing and transport headers cannot be overridden",
          code: "custom",
        },
      ]),
    ],
    [
      "CRLF in a header value",
      { url, headers: { "x-a": "a\r\nx-injected: 1" } },
      invalidBody([
        {
          path: "body.headers.x-a",
          message: "header values must be printable ASCII without CR/LF, at most 1000 characters",
          code: "custom",
        },
      ]),
    ],
    [
      "bad header name",
      { url, headers: { "x a": "1" } },
      invalidBody([{ path: "body.headers.x a", message: "is not a valid header name", code: "custom" }]),
    ],
    [
      "21 headers",
      { url, headers: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`x-h${i}`, "v"])) },
      invalidBody([
        { path: "body.headers", message: "at most 20 custom headers are allowed", code: "custom" },
      ]),
    ],
    [
      "eventTypes []",
      { url, eventTypes: [] },
      invalidBody([
        {
          path: "body.eventTypes",
          message: "must list at least one event type; omit it (or send null) to receive every type",
          code: "too_small",
        },
      ]),
    ],
    [
      "unknown event type",
      { url, eventTypes: ["signal.changed", "nope.none", "grade.*"] },
      problem(422, "unprocessable", "Unprocessable request", "unknown event type: nope.none", [
        {
          path: "body.eventTypes.1",
          message: "nope.none is not in the event type catalog (GET /v1/event-types)",
          code: "unknown_event_type",
        },
      ]),
    ],
    [
      "symbols []",
      { url, symbols: [] },
      invalidBody([
        {
          path: "body.symbols",
          message: "must list at least one symbol; omit it (or send null) to receive every symbol",
          code: "too_small",
        },
      ]),
    ],
    [
      "wrong types and out-of-range limits",
      { url: 123, disabled: "yes", rateLimitPerSecond: 0, maxConcurrency: 65, retrySchedule: [-1] },
      invalidBody([
        {
          path: "body.url",
          message: "Invalid input: expected string, received number",
          code: "invalid_type",
        },
        {
          path: "body.disabled",
          message: "Invalid input: expected boolean, received string",
          code: "invalid_type",
        },
        {
          path: "body.rateLimitPerSecond",
          message: "Too small: expected number to be >=1",
          code: "too_small",
        },
        { path: "body.maxConcurrency", message: "Too big: expected number to be <=64", code: "too_big" },
        { path: "body.retrySchedule.0", message: "Too small: expected number to be >=0", code: "too_small" },
      ]),
    ],
    [
      "retry schedule with 21 delays",
      { url, retrySchedule: Array.from({ length: 21 }, () => 1) },
      invalidBody([
        {
          path: "body.retrySchedule",
          message: "Too big: expected array to have <=20 items",
          code: "too_big",
        },
      ]),
    ],
    [
      "retry delay over a day",
      { url, retrySchedule: [1000, 86_400_001] },
      invalidBody([
        {
          path: "body.retrySchedule.1",
          message: "Too big: expected number to be <=86400000",
          code: "too_big",
        },
      ]),
    ],
    [
      "secret too short",
      { url, secret: "whsec_c2hvcnQ=" },
      invalidBody([{ path: "body.secret", message: "must encode between 24 and 64 bytes", code: "custom" }]),
    ],
    [
      "unknown field",
      { url, colour: "blue" },
      invalidBody([{ path: "body", message: 'Unrecognized key: "colour"', code: "unrecognized_keys" }]),
    ],
    [
      "empty object",
      {},
      invalidBody([
        {
          path: "body.url",
          message: "Invalid input: expected string, received undefined",
          code: "invalid_type",
        },
      ]),
    ],
  ];
  test.each(cases)("create: %s", async (_name, body, expected) => {
    const res = await createAs(a, body as Record<string, unknown>);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    expect(res.body).toEqual(expected);
  });

  test("create: empty and malformed bodies", async () => {
    for (const rawBody of ["", "{"]) {
      const res = await t.request("POST", "/v1/endpoints", { token: a.token, rawBody });
      expect(res.body).toEqual(problem(400, "bad_request", "Bad request", "Malformed JSON in request body"));
    }
  });

  test("the integer spelling of 127.0.0.1 is caught once loopback is not allowlisted", async () => {
    const strict = await startTestApp({ workers: false, env: { SSRF_ALLOW_CIDRS: "" } });
    try {
      const tenant = await createTenantWithKey(strict.deps.db);
      for (const [u, addr] of [
        ["http://2130706433/", "127.0.0.1"],
        ["http://0x7f000001/", "127.0.0.1"],
        ["http://127.1/", "127.0.0.1"],
      ] as const) {
        const res = await strict.request("POST", "/v1/endpoints", { token: tenant.token, body: { url: u } });
        expect(res.body).toEqual(badUrl(`the address ${addr} is in a blocked range (ipv4 loopback)`));
      }
    } finally {
      await strict.close();
    }
  });

  test("update: the same checks, plus an empty patch", async () => {
    const ep = await created(a, { url });
    const patch = (body: unknown) => t.request("PATCH", `/v1/endpoints/${ep.id}`, { token: a.token, body });
    expect((await patch({ url: "ftp://example.com/" })).body).toEqual(
      badUrl("the ftp scheme is not allowed; use https"),
    );
    expect((await patch({ url: "http://[::1]:8080/" })).body).toEqual(
      badUrl("the address ::1 is in a blocked range (ipv6 loopback)"),
    );
    expect((await patch({})).body).toEqual(
      invalidBody([{ path: "body", message: "send at least one field to change", code: "custom" }]),
    );
    expect((await patch({ eventTypes: [] })).status).toBe(400);
    expect((await patch({ eventTypes: ["nope.none"] })).status).toBe(422);
    expect((await patch({ secret: generateSecret() })).body).toEqual(
      invalidBody([{ path: "body", message: 'Unrecognized key: "secret"', code: "unrecognized_keys" }]),
    );
    expect((await patch({ headers: { "content-length": "1" } })).status).toBe(400);
    const [row] = await t.deps.db.select().from(endpoints).where(eq(endpoints.id, ep.id));
    expect(row?.url).toBe(url);
  });

  test("rotate: grace period bounds", async () => {
    const ep = await created(a, { url });
    const res = await t.request("POST", `/v1/endpoints/${ep.id}/secret/rotate`, {
      token: a.token,
      body: { gracePeriodSeconds: 604_801 },
    });
    expect(res.body).toEqual(
      invalidBody([
        {
          path: "body.gracePeriodSeconds",
          message: "Too big: expected number to be <=604800",
          code: "too_big",
        },
      ]),
    );
  });
});

describe("security", () => {
  test("another tenant's endpoint id → 404 on every route, and it is unchanged", async () => {
    const ep = await created(a, { url: "https://partner.example.com/mine" });
    const calls: [string, string, unknown?][] = [
      ["GET", `/v1/endpoints/${ep.id}`],
      ["PATCH", `/v1/endpoints/${ep.id}`, { description: "pwned" }],
      ["DELETE", `/v1/endpoints/${ep.id}`],
      ["GET", `/v1/endpoints/${ep.id}/secret`],
      ["POST", `/v1/endpoints/${ep.id}/secret/rotate`, {}],
      ["POST", `/v1/endpoints/${ep.id}/test`, {}],
      ["GET", `/v1/endpoints/${ep.id}/stats`],
    ];
    for (const [method, path, body] of calls) {
      const res = await t.request(method, path, { token: b.token, body });
      expect(res.body, `${method} ${path}`).toEqual(
        problem(404, "not_found", "Not found", `endpoint ${ep.id} was not found`),
      );
      expect(res.text).not.toContain(ep.secret);
    }
    const list = await t.request("GET", "/v1/endpoints?limit=100", { token: b.token });
    expect(list.body.data.map((e: { id: string }) => e.id)).not.toContain(ep.id);
    const [row] = await t.deps.db.select().from(endpoints).where(eq(endpoints.id, ep.id));
    expect(row).toMatchObject({ description: "", deletedAt: null });
    expect((await t.request("GET", `/v1/endpoints/${ep.id}/secret`, { token: a.token })).body.secret).toBe(
      ep.secret,
    );
  });

  test("unknown ids → 404", async () => {
    const id = unusedId("ep");
    expect((await t.request("GET", `/v1/endpoints/${id}`, { token: a.token })).status).toBe(404);
    expect((await t.request("GET", `/v1/endpoints/${id}`)).status).toBe(404);
  });

  test("scopes: read-only keys cannot write or read the secret; no token → 401", async () => {
    const ep = await created(a, { url: "https://partner.example.com/scoped" });
    const reader = await createKey(t.deps.db, { tenantId: a.tenantId, scopes: ["endpoints:read"] });
    const none = await createKey(t.deps.db, { tenantId: a.tenantId, scopes: ["deliveries:read"] });
    expect((await t.request("GET", `/v1/endpoints/${ep.id}`, { token: reader.token })).status).toBe(200);
    const forbidden = problem(
      403,
      "forbidden",
      "Forbidden",
      'this operation needs the "endpoints:write" scope',
    );
    expect((await createAs(reader, { url: "https://x.example.com/" })).body).toEqual(forbidden);
    expect((await t.request("GET", `/v1/endpoints/${ep.id}/secret`, { token: reader.token })).body).toEqual(
      forbidden,
    );
    for (const [m, p] of [
      ["PATCH", `/v1/endpoints/${ep.id}`],
      ["DELETE", `/v1/endpoints/${ep.id}`],
      ["POST", `/v1/endpoints/${ep.id}/secret/rotate`],
      ["POST", `/v1/endpoints/${ep.id}/test`],
    ] as const)
      expect((await t.request(m, p, { token: reader.token, body: {} })).status).toBe(403);
    expect((await t.request("GET", "/v1/endpoints", { token: none.token })).body).toEqual(
      problem(403, "forbidden", "Forbidden", 'this operation needs the "endpoints:read" scope'),
    );
    expect((await t.request("GET", "/v1/endpoints", { token: null })).status).toBe(401);
  });
});

describe("delivery behaviour driven through the API", () => {
  test("delete mid-retry: no further requests", async () => {
    const f = await freshTenant();
    const rx = await startReceiver(() => ({ status: 500 }));
    const ep = await created(f, { url: rx.url });
    const ev = await publish(t, "webhook.test", { n: 1 }, { tenantId: f.tenantId });
    await rx.waitFor(1);
    expect((await t.request("DELETE", `/v1/endpoints/${ep.id}`, { token: f.token })).status).toBe(204);
    // Three more attempts were due within ~600 ms; wait well past that.
    await sleep(1200);
    expect(rx.requests).toHaveLength(1);
    const d = await settledDelivery(t, ev.id, ep.id);
    expect(d).toMatchObject({ status: "cancelled", attemptCount: 1, lastError: "endpoint deleted" });
    await rx.close();
  });

  test("URL change mid-retry: the remaining retries go to the new URL, validly signed", async () => {
    const f = await freshTenant();
    const oldRx = await startReceiver(() => ({ status: 500 }));
    const newRx = await startReceiver();
    const ep = await created(f, { url: oldRx.url });
    const ev = await publish(t, "webhook.test", { moved: "ü🚀" }, { tenantId: f.tenantId });
    await oldRx.waitFor(1);
    const patched = await t.request("PATCH", `/v1/endpoints/${ep.id}`, {
      token: f.token,
      body: { url: newRx.url },
    });
    expect(patched.status).toBe(200);
    const [req] = await newRx.waitFor(1);
    expect(req?.headers["webhook-id"]).toBe(ev.id);
    expect(verifyWith(ep.secret, req)).toMatchObject({ type: "webhook.test", data: { moved: "ü🚀" } });
    expect(req?.body.equals(oldRx.requests[0]?.body ?? Buffer.alloc(0))).toBe(true);
    const d = await settledDelivery(t, ev.id, ep.id);
    expect(d).toMatchObject({ status: "succeeded", attemptCount: 2 });
    await sleep(300);
    expect(oldRx.requests).toHaveLength(1);
    expect(newRx.requests).toHaveLength(1);
    await oldRx.close();
    await newRx.close();
  });

  test("secret rotation: two v1 signatures during grace, both secrets verify; one after grace", async () => {
    const rx = await startReceiver();
    const ep = await created(a, { url: rx.url });
    const rotated = await t.request("POST", `/v1/endpoints/${ep.id}/secret/rotate`, {
      token: a.token,
      body: { gracePeriodSeconds: 1 },
    });
    expect(rotated.status).toBe(200);
    expect(rotated.body).toEqual({
      secret: expect.stringMatching(/^whsec_/),
      createdAt: expect.any(String),
      previousExpiresAt: expect.any(String),
    });
    const newSecret: string = rotated.body.secret;
    expect(newSecret).not.toBe(ep.secret);
    const current = await t.request("GET", `/v1/endpoints/${ep.id}/secret`, { token: a.token });
    expect(current.body).toMatchObject({
      secret: newSecret,
      previous: [{ expiresAt: rotated.body.previousExpiresAt }],
    });

    const during = await t.request("POST", `/v1/endpoints/${ep.id}/test`, { token: a.token });
    const [req] = await rx.waitFor(1);
    expect(req?.headers["webhook-id"]).toBe(during.body.eventId);
    const sigs = String(req?.headers["webhook-signature"]).split(" ");
    expect(sigs).toHaveLength(2);
    for (const s of sigs) expect(s).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(verifyWith(newSecret, req)).toMatchObject({ type: "webhook.test" });
    expect(verifyWith(ep.secret, req)).toMatchObject({ type: "webhook.test" });
    expect(() => verifyWith(generateSecret(), req)).toThrow();

    await sleep(Math.max(0, Date.parse(rotated.body.previousExpiresAt) - Date.now()) + 100);
    await t.request("POST", `/v1/endpoints/${ep.id}/test`, { token: a.token });
    const [, after] = await rx.waitFor(2);
    expect(String(after?.headers["webhook-signature"]).split(" ")).toHaveLength(1);
    expect(verifyWith(newSecret, after)).toMatchObject({ type: "webhook.test" });
    expect(() => verifyWith(ep.secret, after)).toThrow();

    const audits = await t.deps.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.targetId, ep.id), eq(auditLog.action, "endpoint.secret.rotate")));
    expect(audits).toHaveLength(1);
    expect(JSON.stringify(audits[0]?.details)).not.toContain(newSecret.slice(6));
    await rx.close();
  });

  test("a rotation with grace 0 cuts off every old secret, including one still in an earlier grace", async () => {
    const rx = await startReceiver();
    const ep = await created(a, { url: rx.url });
    const first = await t.request("POST", `/v1/endpoints/${ep.id}/secret/rotate`, {
      token: a.token,
      body: {},
    });
    expect(first.status).toBe(200); // the original secret now has 24 h of grace
    const second = await t.request("POST", `/v1/endpoints/${ep.id}/secret/rotate`, {
      token: a.token,
      body: { gracePeriodSeconds: 0 },
    });
    expect(second.status).toBe(200);
    const view = await t.request("GET", `/v1/endpoints/${ep.id}/secret`, { token: a.token });
    expect(view.body.secret).toBe(second.body.secret);
    expect(view.body.previous).toEqual([]);
    await t.request("POST", `/v1/endpoints/${ep.id}/test`, { token: a.token });
    const [req] = await rx.waitFor(1);
    expect(String(req?.headers["webhook-signature"]).split(" ")).toHaveLength(1);
    expect(verifyWith(second.body.secret, req)).toMatchObject({ type: "webhook.test" });
    expect(() => verifyWith(ep.secret, req)).toThrow();
    expect(() => verifyWith(first.body.secret, req)).toThrow();
    await rx.close();
  });

  test("at most 10 rotated-out secrets are kept; the oldest are dropped", async () => {
    const ep = await created(a, { url: "https://partner.example.com/rot" });
    const issued = [ep.secret];
    for (let i = 0; i < 12; i++) {
      const r = await t.request("POST", `/v1/endpoints/${ep.id}/secret/rotate`, { token: a.token, body: {} });
      expect(r.status).toBe(200);
      issued.push(r.body.secret);
    }
    const rows = await t.deps.db.select().from(endpointSecrets).where(eq(endpointSecrets.endpointId, ep.id));
    expect(rows).toHaveLength(11);
    const kept = new Set(rows.map((r) => t.deps.keyring.decrypt(r.keyId, r.ciphertext)));
    expect(issued.slice(2).every((s) => kept.has(s))).toBe(true);
    expect(kept.has(issued[0] ?? "")).toBe(false);
    expect(kept.has(issued[1] ?? "")).toBe(false);
    const view = await t.request("GET", `/v1/endpoints/${ep.id}/secret`, { token: a.token });
    expect(view.body.secret).toBe(issued.at(-1));
    expect(view.body.previous).toHaveLength(10);
    // Default grace: 24 h.
    const [newest] = view.body.previous;
    expect(Date.parse(newest.expiresAt) - Date.now()).toBeGreaterThan(86_400_000 - 60_000);
  });
});
