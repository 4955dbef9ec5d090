import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { deliveries, endpoints, events } from "../../../db/schema/index.ts";
import { decide } from "../../../src/detector/rules.ts";
import type { Snapshot } from "../../../src/detector/snapshot.ts";
import { EVENT_CATALOG } from "../../../src/services/event-types/catalog.ts";
import { eventDataErrors } from "../../../src/services/event-types/data-schema.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { createEndpoint, deliveryOf, publish, settledDelivery, waitUntil } from "../../helpers/fixtures.ts";
import { expectProblem } from "../../helpers/problems.ts";
import { startReceiver } from "../../helpers/receiver.ts";
import { createKey, createTenantWithKey, unusedId } from "../../helpers/security.ts";

/**
 * Regressions found by a fresh user trying to break the API. Each test failed before its fix.
 */

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ env: { CIRCUIT_FAILURE_THRESHOLD: "10000" } });
});
afterAll(async () => {
  await t?.close();
});

const signal = {
  symbol: "BTC",
  kind: "trading_signal",
  timeframe: "1d",
  previous: { value: "bearish" },
  current: { value: "bullish" },
  observedAt: "2026-12-03T00:00:00Z",
  source: "api",
};

describe("NUL and control characters in stored strings → 400 naming the field (was 500)", () => {
  test.each([
    { what: "tenant metadata key", body: { name: "x", metadata: { "k\u0000": "v" } }, path: "body.metadata" },
    {
      what: "tenant metadata value",
      body: { name: "x", metadata: { k: "v\u0000" } },
      path: "body.metadata.k",
    },
    {
      what: "tenant metadata key (other C0)",
      body: { name: "x", metadata: { "k\u001b": "v" } },
      path: "body.metadata",
    },
  ])("POST /v1/tenants with NUL in $what", async ({ body, path }) => {
    const res = await t.request("POST", "/v1/tenants", { body });
    expectProblem(res, 400, "validation_failed");
    expect(res.body.errors.map((e: { path: string }) => e.path.startsWith(path))).toContain(true);
  });

  test("a bad metadata key is named, with the key's own message", async () => {
    const res = await t.request("POST", "/v1/tenants", { body: { name: "x", metadata: { "k\u0000": "v" } } });
    expect(res.body.errors).toEqual([
      {
        path: "body.metadata.k\u0000",
        message: "key: must not contain control characters",
        code: "invalid_key",
      },
    ]);
  });

  test("PATCH /v1/tenants metadata with NUL", async () => {
    const created = await t.request("POST", "/v1/tenants", { body: { name: "nul-patch" } });
    const res = await t.request("PATCH", `/v1/tenants/${created.body.id}`, {
      body: { metadata: { k: "\u0000" } },
    });
    expectProblem(res, 400, "validation_failed", ["body.metadata.k"]);
  });

  test.each([
    { what: "description", extra: { description: "a\u0000b" }, path: "body.description" },
    { what: "metadata value", extra: { metadata: { team: "q\u0000" } }, path: "body.metadata.team" },
    { what: "metadata key", extra: { metadata: { "t\u0000": "q" } }, path: "body.metadata" },
    { what: "header value", extra: { headers: { "x-a": "b\u0000" } }, path: "body.headers.x-a" },
  ])("POST and PATCH /v1/endpoints with NUL in $what", async ({ extra, path }) => {
    const tenant = await createTenantWithKey(t.deps.db);
    const res = await t.request("POST", "/v1/endpoints", {
      token: tenant.token,
      body: { url: "https://example.com/hook", ...extra },
    });
    expectProblem(res, 400, "validation_failed");
    expect(res.body.errors.map((e: { path: string }) => e.path.startsWith(path))).toContain(true);
    const ok = await t.request("POST", "/v1/endpoints", {
      token: tenant.token,
      body: { url: "https://example.com/hook" },
    });
    expect(ok.status).toBe(201);
    const patched = await t.request("PATCH", `/v1/endpoints/${ok.body.id}`, {
      token: tenant.token,
      body: extra,
    });
    expectProblem(patched, 400, "validation_failed");
  });

  test("POST /v1/api-keys with NUL in the name", async () => {
    const res = await t.request("POST", "/v1/api-keys", { body: { name: "a\u0000", scopes: ["keys:read"] } });
    expectProblem(res, 400, "validation_failed", ["body.name"]);
  });

  test.each([
    { what: "description", extra: { description: "a\u0000" }, path: "body.description" },
    {
      what: "a schema string",
      extra: { schema: { type: "object", description: "x\u0000" } },
      path: "body.schema.description",
    },
    {
      what: "a schema key",
      extra: { schema: { type: "object", properties: { "a\u0000": { type: "string" } } } },
      path: "body.schema.properties",
    },
    {
      what: "an example string",
      extra: { example: { deep: ["ok", "n\u0000"] } },
      path: "body.example.deep.1",
    },
  ])("POST /v1/event-types with NUL in $what", async ({ extra, path }) => {
    const res = await t.request("POST", "/v1/event-types", {
      body: { name: "nul.probe", description: "probe", ...extra },
    });
    expectProblem(res, 400, "validation_failed");
    expect(res.body.errors.map((e: { path: string }) => e.path.startsWith(path))).toContain(true);
  });

  test.each([
    { what: "type", body: { type: "signal.\u0000", data: signal }, path: "body.type" },
    {
      what: "tenantId",
      body: { type: "signal.changed", data: signal, tenantId: "ten_\u0000" },
      path: "body.tenantId",
    },
    {
      what: "symbol",
      body: { type: "signal.changed", data: signal, symbol: "B\u0000" },
      path: "body.symbol",
    },
  ])("POST /v1/events with NUL in $what", async ({ body, path }) => {
    const res = await t.request("POST", "/v1/events", { body });
    expectProblem(res, 400, "validation_failed", [path]);
  });

  test("a NUL in a query filter is refused naming it before it reaches Postgres, never a 500", async () => {
    const res = await t.request("GET", "/v1/audit-log?action=a%00b");
    expectProblem(res, 400, "validation_failed");
    expect(res.body.errors).toEqual([
      {
        path: "query.action",
        message: "must not contain the NUL character (U+0000)",
        code: "invalid_string",
      },
    ]);
    expect(res.text).not.toMatch(/unicode|utf8|0x00|postgres/i);
  });

  test("event data keeps accepting NUL inside strings and is delivered byte-exact", async () => {
    const type = "nul.data";
    const created = await t.request("POST", "/v1/event-types", { body: { name: type, description: "any" } });
    expect(created.status).toBe(201);
    const rx = await startReceiver();
    const ep = await createEndpoint(t, { url: rx.url, eventTypes: [type] });
    try {
      const data = { text: "a\u0000b", "k\u0000": ["\u0000"], symbol: "S\u0000" };
      const res = await t.request("POST", "/v1/events", { body: { type, data, tenantId: ep.tenantId } });
      expect(res.status, res.text).toBe(202);
      expect(res.body.symbol).toBeNull(); // a symbol with a NUL cannot be filtered on
      const got = await t.request("GET", `/v1/events/${res.body.id}`);
      expect(got.body.data).toEqual(data);
      const [row] = await t.deps.db.select().from(events).where(eq(events.id, res.body.id));
      const [received] = await rx.waitFor(1);
      expect(received?.body.toString("utf8")).toBe(row?.body);
      expect(JSON.parse(received?.body.toString("utf8") ?? "").data).toEqual(data);
    } finally {
      await rx.close();
    }
  });
});

describe("API key rotation", () => {
  test("rotating the same key twice → 409 naming its successor (was a second live successor)", async () => {
    const tenant = await createTenantWithKey(t.deps.db, ["keys:read"]);
    const key = await createKey(t.deps.db, { tenantId: tenant.tenantId, scopes: ["keys:read"] });
    const first = await t.request("POST", `/v1/api-keys/${key.id}/rotate`, { body: {} });
    expect(first.status).toBe(200);
    const second = await t.request("POST", `/v1/api-keys/${key.id}/rotate`, { body: {} });
    expectProblem(second, 409, "conflict");
    expect(second.body.detail).toBe(
      `this key was already rotated; rotate its successor ${first.body.id} instead`,
    );
    // The successor itself rotates normally, once.
    const next = await t.request("POST", `/v1/api-keys/${first.body.id}/rotate`, { body: {} });
    expect(next.status).toBe(200);
    const list = await t.request("GET", `/v1/api-keys?tenantId=${tenant.tenantId}&limit=100`);
    const successors = list.body.data.filter(
      (k: { rotatedFromId: string | null }) => k.rotatedFromId === key.id,
    );
    expect(successors).toHaveLength(1);
  });

  test("two concurrent rotations of one key: exactly one succeeds", async () => {
    const tenant = await createTenantWithKey(t.deps.db, ["keys:read"]);
    const key = await createKey(t.deps.db, { tenantId: tenant.tenantId, scopes: ["keys:read"] });
    const results = await Promise.all(
      [0, 1, 2].map(() => t.request("POST", `/v1/api-keys/${key.id}/rotate`, { body: {} })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409]);
  });
});

describe("list cursors are validated (was: garbage → the first page)", () => {
  const routes = [
    ["/v1/tenants", "ten"],
    ["/v1/api-keys", "key"],
    ["/v1/endpoints", "ep"],
    ["/v1/events", "evt"],
    ["/v1/deliveries", "dlv"],
    ["/v1/dead-letters", "dlv"],
    ["/v1/audit-log", "aud"],
    ["/v1/event-types", null],
  ] as const;

  test.each(routes)("GET %s?cursor=garbage → 400 naming query.cursor", async (path) => {
    for (const cursor of ["garbage", "evt_", "' OR 1=1 --", "evt_01jf3z8q4k2m6n8p0r2t4v6x8z"]) {
      const res = await t.request("GET", `${path}?cursor=${encodeURIComponent(cursor)}`);
      expectProblem(res, 400, "validation_failed", ["query.cursor"]);
    }
  });

  test.each(routes)("GET %s with a well-formed cursor of its own kind → 200", async (path, prefix) => {
    const cursor = prefix ? unusedId(prefix) : "signal.changed";
    const res = await t.request("GET", `${path}?cursor=${cursor}`);
    expect(res.status, res.text).toBe(200);
  });

  test("another resource's id is not a cursor", async () => {
    const res = await t.request("GET", `/v1/events?cursor=${unusedId("ten")}`);
    expectProblem(res, 400, "validation_failed", ["query.cursor"]);
  });
});

describe("event data is validated against its type's JSON Schema", () => {
  test("POST /v1/events with data that misses required fields → 422 naming each path", async () => {
    const res = await t.request("POST", "/v1/events", { body: { type: "signal.changed", data: {} } });
    expectProblem(res, 422, "unprocessable", [
      "body.data.symbol",
      "body.data.kind",
      "body.data.timeframe",
      "body.data.previous",
      "body.data.current",
      "body.data.observedAt",
      "body.data.source",
    ]);
    expect(res.body.detail).toBe("event data does not match the schema of its type");
    expect(res.body.errors[0]).toEqual({
      path: "body.data.symbol",
      message: "is required",
      code: "required",
    });
  });

  test("wrong types and enum values are named by their nested path", async () => {
    const res = await t.request("POST", "/v1/events", {
      body: {
        type: "signal.changed",
        data: { ...signal, timeframe: "5m", current: { value: "up", score: "high" } },
      },
    });
    expectProblem(res, 422, "unprocessable");
    // jsonb keeps keys in its own order, so the order of errors follows no document: compare sorted.
    expect(res.body.errors.map((e: { path: string }) => e.path).sort()).toEqual([
      "body.data.current.score",
      "body.data.current.value",
      "body.data.timeframe",
    ]);
    expect(res.body.errors).toContainEqual({
      path: "body.data.timeframe",
      message: 'must be one of "1d", "1h"',
      code: "enum",
    });
  });

  test("batch: errors name body.events.N.data…, nothing is stored", async () => {
    const before = await t.deps.db.$count(events);
    const res = await t.request("POST", "/v1/events/batch", {
      body: {
        events: [
          { type: "signal.changed", data: signal },
          { type: "grade.upgraded", data: { symbol: "ETH" } },
        ],
      },
    });
    expectProblem(res, 422, "unprocessable");
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain("body.events.1.data.kind");
    expect(res.body.errors.every((e: { path: string }) => e.path.startsWith("body.events.1.data"))).toBe(
      true,
    );
    expect(await t.deps.db.$count(events)).toBe(before);
  });

  test("valid data is accepted; an operator type without a schema accepts any object", async () => {
    expect(
      (await t.request("POST", "/v1/events", { body: { type: "signal.changed", data: signal } })).status,
    ).toBe(202);
    await t.request("POST", "/v1/event-types", { body: { name: "free.form", description: "anything" } });
    const res = await t.request("POST", "/v1/events", {
      body: { type: "free.form", data: { any: [1, "x"] } },
    });
    expect(res.status).toBe(202);
  });

  test("an operator type's schema is enforced, including formats", async () => {
    const created = await t.request("POST", "/v1/event-types", {
      body: {
        name: "billing.invoice_paid",
        description: "an invoice was paid",
        schema: {
          type: "object",
          required: ["amount", "paidAt"],
          properties: {
            amount: { type: "integer", minimum: 1 },
            paidAt: { type: "string", format: "date-time" },
          },
          additionalProperties: false,
        },
        example: { amount: 100, paidAt: "2026-12-03T00:00:00Z" },
      },
    });
    expect(created.status, created.text).toBe(201);
    const bad = await t.request("POST", "/v1/events", {
      body: { type: "billing.invoice_paid", data: { amount: 0, paidAt: "yesterday", extra: true } },
    });
    expectProblem(bad, 422, "unprocessable");
    expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual([
      "body.data.amount",
      "body.data.extra",
      "body.data.paidAt",
    ]);
    const good = await t.request("POST", "/v1/events", {
      body: { type: "billing.invoice_paid", data: { amount: 5, paidAt: "2026-12-03T10:00:00Z" } },
    });
    expect(good.status).toBe(202);
  });

  test.each([
    { what: "an invalid type keyword", schema: { type: "objekt" }, path: "body.schema" },
    {
      what: "a bad pattern",
      schema: { type: "object", properties: { a: { pattern: "(" } } },
      path: "body.schema",
    },
    {
      what: "a pattern RE2 cannot run (lookahead)",
      schema: { type: "object", properties: { a: { type: "string", pattern: "^(?=x)x+$" } } },
      path: "body.schema",
    },
    {
      what: "an unresolvable $ref",
      schema: { $ref: "https://example.com/remote.json" },
      path: "body.schema",
    },
    {
      what: "another draft",
      schema: { $schema: "http://json-schema.org/draft-07/schema#" },
      path: "body.schema",
    },
  ])("creating a type with $what → 400 naming body.schema", async ({ schema, path }) => {
    const res = await t.request("POST", "/v1/event-types", {
      body: { name: "bad.schema", description: "x", schema },
    });
    expectProblem(res, 400, "validation_failed");
    expect(
      res.body.errors.every((e: { path: string }) => e.path.startsWith(path)),
      res.text,
    ).toBe(true);
    expect((await t.request("GET", "/v1/event-types/bad.schema")).status).toBe(404);
  });

  test("a backtracking pattern answers at once: patterns run on RE2, linear in the input", async () => {
    const type = "redos.check";
    const created = await t.request("POST", "/v1/event-types", {
      body: {
        name: type,
        description: "x",
        schema: { type: "object", properties: { s: { type: "string", pattern: "^(a+)+$" } } },
      },
    });
    expect(created.status, created.text).toBe(201);
    // 60 characters: a backtracking engine would need ~2^60 steps (JavaScript's RegExp took ~1 s
    // at 28); RE2 answers in one pass, so this simply completes.
    const res = await t.request("POST", "/v1/events", { body: { type, data: { s: `${"a".repeat(60)}!` } } });
    expectProblem(res, 422, "unprocessable", ["body.data.s"]);
    const ok = await t.request("POST", "/v1/events", { body: { type, data: { s: "a".repeat(60) } } });
    expect(ok.status).toBe(202);
    // Each pattern is its own: two in one schema are both applied, each to its own field.
    const two = "redos.two";
    const made = await t.request("POST", "/v1/event-types", {
      body: {
        name: two,
        description: "x",
        schema: {
          type: "object",
          properties: { x: { type: "string", pattern: "^x+$" }, y: { type: "string", pattern: "^y+$" } },
        },
      },
    });
    expect(made.status, made.text).toBe(201);
    const swapped = await t.request("POST", "/v1/events", { body: { type: two, data: { x: "y", y: "x" } } });
    expectProblem(swapped, 422, "unprocessable", ["body.data.x", "body.data.y"]);
    const right = await t.request("POST", "/v1/events", { body: { type: two, data: { x: "xx", y: "yy" } } });
    expect(right.status).toBe(202);
  });

  test("an example that does not match the type's own schema → 400 naming body.example", async () => {
    const res = await t.request("POST", "/v1/event-types", {
      body: {
        name: "bad.example",
        description: "x",
        schema: { type: "object", required: ["a"] },
        example: { b: 1 },
      },
    });
    expectProblem(res, 400, "validation_failed", ["body.example.a"]);
  });

  test("every built-in schema accepts its own example", () => {
    for (const entry of EVENT_CATALOG)
      expect(eventDataErrors(entry.schema, entry.example), entry.name).toEqual([]);
  });

  test("the built-in schemas accept what the change detector emits", () => {
    const schemaOf = (name: string) => EVENT_CATALOG.find((e) => e.name === name)?.schema ?? {};
    const at = (s: string) => new Date(s);
    const cases: [Snapshot, Snapshot][] = [
      [
        {
          source: "api",
          symbol: "BTC",
          kind: "trading_signal",
          timeframe: "1h",
          observedAt: at("2026-01-01T00:00:00Z"),
          value: { value: "bearish" },
        },
        {
          source: "api",
          symbol: "BTC",
          kind: "trading_signal",
          timeframe: "1h",
          observedAt: at("2026-01-01T01:00:00Z"),
          value: { value: "bullish", score: 0.8 },
        },
      ],
      [
        {
          source: "tokenmetrics",
          symbol: "ETH",
          kind: "tm_grade",
          timeframe: "",
          observedAt: at("2026-01-01T00:00:00Z"),
          value: { score: 40, label: "Sell" },
        },
        {
          source: "tokenmetrics",
          symbol: "ETH",
          kind: "tm_grade",
          timeframe: "",
          observedAt: at("2026-01-02T00:00:00Z"),
          value: { score: 80, label: "Buy", components: { quant: 70.5 } },
        },
      ],
      [
        {
          source: "replay",
          symbol: "SOL",
          kind: "momentum_grade",
          timeframe: "",
          observedAt: at("2026-01-01T00:00:00Z"),
          value: { score: 80, label: "Buy" },
        },
        {
          source: "replay",
          symbol: "SOL",
          kind: "momentum_grade",
          timeframe: "",
          observedAt: at("2026-01-02T00:00:00Z"),
          value: { score: 10, label: "Strong Sell" },
        },
      ],
    ];
    const types = [];
    for (const [a, b] of cases) {
      const base = decide(null, a, { gradeScoreThreshold: 5 });
      const d = decide(base.state, b, { gradeScoreThreshold: 5 });
      if (d.outcome !== "changed") throw new Error(`expected a change, got ${d.outcome}`);
      types.push(d.event.type);
      expect(eventDataErrors(schemaOf(d.event.type), d.event.data)).toEqual([]);
    }
    expect(types).toEqual(["signal.changed", "grade.upgraded", "grade.downgraded"]);
  });

  test("internally produced webhook.test and endpoint.disabled payloads conform", async () => {
    const schemaOf = (name: string) => EVENT_CATALOG.find((e) => e.name === name)?.schema ?? {};
    const tenant = await createTenantWithKey(t.deps.db);
    const rx = await startReceiver();
    try {
      const ep = await t.request("POST", "/v1/endpoints", { token: tenant.token, body: { url: rx.url } });
      const sent = await t.request("POST", `/v1/endpoints/${ep.body.id}/test`, {
        token: tenant.token,
        body: {},
      });
      expect(sent.status, sent.text).toBe(202);
      const got = await t.request("GET", `/v1/events/${sent.body.eventId}`);
      expect(eventDataErrors(schemaOf("webhook.test"), got.body.data)).toEqual([]);
    } finally {
      await rx.close();
    }
    // The shape src/maintenance/auto-disable.ts publishes.
    const disabled = {
      endpointId: "ep_x",
      reason: "failing continuously since …",
      failingSince: new Date().toISOString(),
    };
    expect(eventDataErrors(schemaOf("endpoint.disabled"), disabled)).toEqual([]);
  });
});

describe("dead-letter redrive by ids accounts for every id", () => {
  test("unknown, foreign and not-dead ids are reported, not silently dropped", async () => {
    const tenant = await createTenantWithKey(t.deps.db);
    const other = await createTenantWithKey(t.deps.db);
    const rx = await startReceiver(() => ({ status: 500 }));
    try {
      const ep = await createEndpoint(t, { url: rx.url, tenantId: tenant.tenantId, retrySchedule: [] });
      const otherEp = await createEndpoint(t, { url: rx.url, tenantId: other.tenantId, retrySchedule: [] });
      const dead = await publish(
        t,
        "webhook.test",
        { endpointId: ep.id, message: "x" },
        { tenantId: tenant.tenantId },
      );
      const foreign = await publish(
        t,
        "webhook.test",
        { endpointId: otherEp.id, message: "x" },
        { tenantId: other.tenantId },
      );
      const deadDlv = await settledDelivery(t, dead.id, ep.id, { statuses: ["dead"] });
      const foreignDlv = await settledDelivery(t, foreign.id, otherEp.id, { statuses: ["dead"] });
      // A delivery that is not dead: succeeded.
      await t.deps.db.update(deliveries).set({ status: "succeeded" }).where(eq(deliveries.id, foreignDlv.id));
      const missing = unusedId("dlv");
      const res = await t.request("POST", "/v1/dead-letters/redrive", {
        token: tenant.token,
        body: { deliveryIds: [deadDlv.id, missing, foreignDlv.id, deadDlv.id] },
      });
      expect(res.status, res.text).toBe(202);
      expect(res.body).toEqual({ redriven: 1, skipped: 0, notFound: [missing, foreignDlv.id], notDead: [] });

      const succeeded = await t.request("POST", "/v1/dead-letters/redrive", {
        body: { deliveryIds: [foreignDlv.id, missing] },
      });
      expect(succeeded.body).toEqual({
        redriven: 0,
        skipped: 0,
        notFound: [missing],
        notDead: [foreignDlv.id],
      });
    } finally {
      await rx.close();
    }
  });
});

describe("deleting a tenant disables its endpoints and cancels their pending deliveries", () => {
  test("endpoints read disabled with a reason; pending deliveries are cancelled; one commit", async () => {
    const tenant = await createTenantWithKey(t.deps.db);
    const rx = await startReceiver(() => ({ status: 500 }));
    try {
      const ep = await createEndpoint(t, { url: rx.url, tenantId: tenant.tenantId, retrySchedule: [60_000] });
      const ev = await publish(
        t,
        "webhook.test",
        { endpointId: ep.id, message: "x" },
        { tenantId: tenant.tenantId },
      );
      await waitUntil(async () => {
        const d = await deliveryOf(t, ev.id, ep.id);
        return d && d.attemptCount >= 1 && d.status === "pending";
      });
      expect((await t.request("DELETE", `/v1/tenants/${tenant.tenantId}`)).status).toBe(204);
      const got = await t.request("GET", `/v1/endpoints/${ep.id}`);
      expect(got.status).toBe(200);
      expect(got.body).toMatchObject({ disabled: true, disabledReason: "tenant deleted" });
      const d = await deliveryOf(t, ev.id, ep.id);
      expect(d).toMatchObject({ status: "cancelled", lastError: "tenant deleted" });
      const [row] = await t.deps.db.select().from(endpoints).where(eq(endpoints.id, ep.id));
      expect(row?.disabled).toBe(true);
    } finally {
      await rx.close();
    }
  });
});

describe("a tenant naming another tenant's id learns nothing", () => {
  test("POST /v1/endpoints and POST /v1/api-keys both answer 404; the operator keeps 422 on api-keys", async () => {
    const tenant = await createTenantWithKey(t.deps.db);
    const other = await createTenantWithKey(t.deps.db);
    const ep = await t.request("POST", "/v1/endpoints", {
      token: tenant.token,
      body: { url: "https://example.com/hook", tenantId: other.tenantId },
    });
    const key = await t.request("POST", "/v1/api-keys", {
      token: tenant.token,
      body: { name: "x", tenantId: other.tenantId, scopes: ["keys:read"] },
    });
    expectProblem(ep, 404, "not_found");
    expectProblem(key, 404, "not_found");
    const missing = await t.request("POST", "/v1/api-keys", {
      token: tenant.token,
      body: { name: "x", tenantId: unusedId("ten"), scopes: ["keys:read"] },
    });
    expectProblem(missing, 404, "not_found");
    expect(missing.body.detail.replace(/ten_\w+/, "")).toBe(key.body.detail.replace(/ten_\w+/, ""));
    const operator = await t.request("POST", "/v1/api-keys", {
      body: { name: "x", tenantId: unusedId("ten"), scopes: ["keys:read"] },
    });
    expectProblem(operator, 422, "unprocessable", ["body.tenantId"]);
  });
});

describe("second fresh-user pass", () => {
  test.each([
    "/v1/deliveries?statuss=failed",
    "/v1/endpoints?foo=bar",
    "/v1/events?limit=5&typ=signal.changed",
    "/v1/tenants?includeDeleted=true&x=1",
    "/v1/dead-letters?endpointid=ep_x",
  ])("an unknown query parameter is a 400, not an unfiltered list: %s", async (path) => {
    const res = await t.request("GET", path);
    expectProblem(res, 400, "validation_failed");
    expect(res.body.errors[0].path).toBe("query");
  });

  test("a top-level symbol contradicting data.symbol is a 422 naming body.symbol; agreeing ones pass", async () => {
    const bad = await t.request("POST", "/v1/events", {
      body: { type: "signal.changed", symbol: "BTC", data: { ...signal, symbol: "ETH" } },
    });
    expectProblem(bad, 422, "unprocessable", ["body.symbol"]);
    const batch = await t.request("POST", "/v1/events/batch", {
      body: {
        events: [
          { type: "signal.changed", symbol: "btc", data: signal },
          { type: "signal.changed", symbol: "SOL", data: signal },
        ],
      },
    });
    expectProblem(batch, 422, "unprocessable", ["body.events.1.symbol"]);
    const ok = await t.request("POST", "/v1/events", {
      body: { type: "signal.changed", symbol: "btc", data: signal },
    });
    expect(ok.status, ok.text).toBe(202);
  });
});

describe("U+0000 in the URL", () => {
  test.each([
    ["a query filter", "/v1/audit-log?action=a%00b", [{ path: "query.action" }]],
    ["a path id", "/v1/endpoints/ep_%00x", [{ path: "path" }]],
    ["a list filter", "/v1/deliveries?endpointId=ep_%00", [{ path: "query.endpointId" }]],
  ])("%s → 400 naming it, not the database's error", async (_name, url, errors) => {
    const res = await t.request("GET", url);
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    expect(res.body).toMatchObject({ type: "/problems/validation_failed", status: 400 });
    expect(res.body.errors).toMatchObject(
      errors.map((e) => ({ ...e, message: "must not contain the NUL character (U+0000)" })),
    );
  });
});
