import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { runMigrations } from "../../../db/migrate.ts";
import { auditLog } from "../../../db/schema/index.ts";
import { EVENT_CATALOG } from "../../../src/services/event-types/catalog.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { type ErrorRow, expectProblem } from "../../helpers/problems.ts";
import { createKey, createTenantWithKey } from "../../helpers/security.ts";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ workers: false });
});
afterAll(async () => {
  await t?.close();
});

const BUILT_INS = [
  "endpoint.disabled",
  "grade.downgraded",
  "grade.upgraded",
  "signal.changed",
  "webhook.test",
];

describe("the built-in catalog", () => {
  test("every authenticated caller lists it, with a draft 2020-12 schema and an example per type", async () => {
    const tenant = await createTenantWithKey(t.deps.db, []); // no scopes at all
    const res = await t.request("GET", "/v1/event-types", { token: tenant.token });
    expect(res.status).toBe(200);
    const builtIn = res.body.data.filter((e: { builtIn: boolean }) => e.builtIn);
    expect(builtIn.map((e: { name: string }) => e.name)).toEqual(BUILT_INS);
    for (const e of builtIn) {
      expect(e.description.length).toBeGreaterThan(20);
      expect(e.schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
      expect(e.schema.type).toBe("object");
      // The example carries every field the schema requires.
      for (const field of e.schema.required as string[]) expect(e.example).toHaveProperty(field);
      expect(e).toMatchObject({ deprecated: false, deprecatedAt: null });
    }
    expectProblem(await t.request("GET", "/v1/event-types", { token: null }), 401, "unauthorized");
  });

  test("signal.changed and grade.* describe the documented shapes", async () => {
    const signal = (await t.request("GET", "/v1/event-types/signal.changed")).body;
    expect(signal.schema.properties.timeframe.enum).toEqual(["1d", "1h"]);
    expect(signal.schema.properties.kind).toEqual({ const: "trading_signal" });
    expect(signal.schema.properties.previous.properties.value.enum).toEqual([
      "bullish",
      "bearish",
      "neutral",
    ]);
    const grade = (await t.request("GET", "/v1/event-types/grade.upgraded")).body;
    expect(grade.schema.properties.current.required).toEqual(["score", "label"]);
    expect(grade.example).toMatchObject({ kind: "tm_grade", current: { label: expect.any(String) } });
    const disabled = (await t.request("GET", "/v1/event-types/endpoint.disabled")).body;
    expect(disabled.schema.required).toEqual(["endpointId", "reason"]);
    expectProblem(await t.request("GET", "/v1/event-types/no.such_type"), 404, "not_found");
  });

  test("the seed is idempotent and keeps an operator's deprecation of a built-in", async () => {
    const dep = await t.request("POST", "/v1/event-types/grade.downgraded/deprecate");
    expect(dep.status).toBe(200);
    await runMigrations(t.db.url);
    await runMigrations(t.db.url);
    const after = await t.request("GET", "/v1/event-types/grade.downgraded");
    expect(after.body.deprecatedAt).toBe(dep.body.deprecatedAt);
    const all = await t.request("GET", "/v1/event-types?includeDeprecated=true");
    expect(all.body.data.filter((e: { builtIn: boolean }) => e.builtIn)).toHaveLength(EVENT_CATALOG.length);
  });
});

describe("operator additions and deprecation", () => {
  test("add a type, read it back, refuse a duplicate; both audited", async () => {
    const body = {
      name: "price.alert_crossed",
      description: "A price crossed an alert level",
      schema: { type: "object", required: ["symbol"], properties: { symbol: { type: "string" } } },
      example: { symbol: "BTC", level: 100000 },
    };
    const res = await t.request("POST", "/v1/event-types", { body });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      ...body,
      builtIn: false,
      deprecated: false,
      deprecatedAt: null,
      createdAt: expect.any(String),
    });
    expect((await t.request("GET", "/v1/event-types/price.alert_crossed")).body).toEqual(res.body);
    expectProblem(await t.request("POST", "/v1/event-types", { body }), 409, "conflict");

    const minimal = await t.request("POST", "/v1/event-types", {
      body: { name: "ops.maintenance", description: "Planned maintenance" },
    });
    expect(minimal.body).toMatchObject({ schema: { type: "object" }, example: null });
    const rows = await t.deps.db.select().from(auditLog);
    expect(rows.filter((r) => r.action === "event_type.create").map((r) => r.targetId)).toEqual(
      expect.arrayContaining(["price.alert_crossed", "ops.maintenance"]),
    );
  });

  test("deprecate hides a type from the default list, refuses publishing it, and is idempotent", async () => {
    await t.request("POST", "/v1/event-types", { body: { name: "legacy.thing", description: "old" } });
    expect((await t.request("POST", "/v1/events", { body: { type: "legacy.thing", data: {} } })).status).toBe(
      202,
    );
    const dep = await t.request("POST", "/v1/event-types/legacy.thing/deprecate");
    expect(dep.body).toMatchObject({
      name: "legacy.thing",
      deprecated: true,
      deprecatedAt: expect.any(String),
    });
    const again = await t.request("POST", "/v1/event-types/legacy.thing/deprecate");
    expect(again.body.deprecatedAt).toBe(dep.body.deprecatedAt);
    const names = (q: string) =>
      t
        .request("GET", `/v1/event-types?limit=100${q}`)
        .then((r) => r.body.data.map((e: { name: string }) => e.name));
    expect(await names("")).not.toContain("legacy.thing");
    expect(await names("&includeDeprecated=true")).toContain("legacy.thing");
    const pub = await t.request("POST", "/v1/events", { body: { type: "legacy.thing", data: {} } });
    expectProblem(pub, 422, "unprocessable", ["body.type"]);
    expect(pub.body.errors[0].message).toContain("deprecated");
    const audit = (await t.deps.db.select().from(auditLog)).filter(
      (r) => r.action === "event_type.deprecate" && r.targetId === "legacy.thing",
    );
    expect(audit).toHaveLength(1);
    expectProblem(await t.request("POST", "/v1/event-types/no.such_type/deprecate"), 404, "not_found");
  });

  test("the list pages by name", async () => {
    const p1 = await t.request("GET", "/v1/event-types?limit=2");
    expect(p1.body).toMatchObject({ hasMore: true });
    expect(p1.body.nextCursor).toBe(p1.body.data[1].name);
    const p2 = await t.request("GET", `/v1/event-types?limit=2&cursor=${p1.body.nextCursor}`);
    expect(p2.body.data[0].name > p1.body.nextCursor).toBe(true);
  });
});

describe("errors", () => {
  const table: ErrorRow[] = [
    {
      name: "empty object",
      body: {},
      status: 400,
      code: "validation_failed",
      paths: ["body.name", "body.description"],
    },
    { name: "malformed JSON", raw: '{"name":', status: 400, code: "bad_request" },
    {
      name: "name of wrong type",
      body: { name: 1, description: "d" },
      status: 400,
      code: "validation_failed",
      paths: ["body.name"],
    },
    {
      name: "single word",
      body: { name: "signal", description: "d" },
      status: 400,
      code: "validation_failed",
      paths: ["body.name"],
    },
    {
      name: "capitals",
      body: { name: "Signal.Changed", description: "d" },
      status: 400,
      code: "validation_failed",
      paths: ["body.name"],
    },
    {
      name: "empty segment",
      body: { name: "signal..changed", description: "d" },
      status: 400,
      code: "validation_failed",
      paths: ["body.name"],
    },
    {
      name: "accented",
      body: { name: "sígnal.changed", description: "d" },
      status: 400,
      code: "validation_failed",
      paths: ["body.name"],
    },
    {
      name: "emoji",
      body: { name: "🚀.launch", description: "d" },
      status: 400,
      code: "validation_failed",
      paths: ["body.name"],
    },
    {
      name: "10,000-char name",
      body: { name: `a.${"b".repeat(10_000)}`, description: "d" },
      status: 400,
      code: "validation_failed",
      paths: ["body.name"],
    },
    {
      name: "10,000-char description",
      body: { name: "a.b", description: "d".repeat(10_000) },
      status: 400,
      code: "validation_failed",
      paths: ["body.description"],
    },
    {
      name: "schema not an object",
      body: { name: "a.b", description: "d", schema: [] },
      status: 400,
      code: "validation_failed",
      paths: ["body.schema"],
    },
    {
      name: "unknown field",
      body: { name: "a.b", description: "d", version: 2 },
      status: 400,
      code: "validation_failed",
      paths: ["body"],
    },
  ];
  test.each(table)("POST /v1/event-types: $name → $status", async (row) => {
    const res = await t.request(
      "POST",
      "/v1/event-types",
      row.raw !== undefined ? { rawBody: row.raw } : { body: row.body },
    );
    expectProblem(res, row.status, row.code, row.paths);
  });
});

describe("security", () => {
  test("only an operator with event-types:write adds or deprecates", async () => {
    const tenant = await createTenantWithKey(t.deps.db);
    const narrowOperator = await createKey(t.deps.db, { role: "operator", scopes: ["events:write"] });
    for (const token of [tenant.token, narrowOperator.token]) {
      expectProblem(
        await t.request("POST", "/v1/event-types", { token, body: { name: "x.y", description: "d" } }),
        403,
        "forbidden",
      );
      expectProblem(
        await t.request("POST", "/v1/event-types/webhook.test/deprecate", { token }),
        403,
        "forbidden",
      );
    }
    expect((await t.request("GET", "/v1/event-types/x.y")).status).toBe(404);
    expect((await t.request("GET", "/v1/event-types/webhook.test")).body.deprecated).toBe(false);
  });
});
