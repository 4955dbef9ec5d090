import { count, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { auditLog, signalSnapshots, signalStates } from "../../../db/schema/index.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { createEndpoint } from "../../helpers/fixtures.ts";
import { startReceiver } from "../../helpers/receiver.ts";
import { createKey, createTenantWithKey } from "../../helpers/security.ts";
import { storedEvents, verified, waitForDetection } from "./helpers.ts";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

const sig = (symbol: string, day: number, value: string, extra: Record<string, unknown> = {}) => ({
  symbol,
  kind: "trading_signal",
  observedAt: new Date(Date.UTC(2024, 0, day)).toISOString(),
  value,
  ...extra,
});
const grade = (symbol: string, day: number, score: number, label: string, kind = "tm_grade") => ({
  symbol,
  kind,
  observedAt: new Date(Date.UTC(2024, 0, day)).toISOString(),
  score,
  label,
});

async function put(snapshots: unknown[], source?: string) {
  const res = await t.request("PUT", "/v1/signals", { body: source ? { source, snapshots } : { snapshots } });
  expect(res.status, res.text).toBe(202);
  await waitForDetection(t);
  return res;
}

describe("PUT /v1/signals → detection → delivery", () => {
  test("baseline, flip and grade change reach a receiver with the catalog's data shapes", async () => {
    const rx = await startReceiver();
    const ep = await createEndpoint(t, { url: rx.url });
    const first = await put(
      [sig("aapl", 1, "bullish", { score: 0.4 }), grade("AAPL", 1, 50, "Neutral")],
      "desk",
    );
    expect(first.body).toEqual({ batchId: expect.stringMatching(/^snb_/), accepted: 2 });
    expect(await storedEvents(t)).toEqual([]);

    await put(
      [
        sig("AAPL", 2, "bearish", { score: -0.2 }),
        grade("AAPL", 2, 50.5, "Neutral"),
        grade("AAPL", 3, 62, "Buy"),
      ],
      "desk",
    );
    const reqs = await rx.waitFor(2);
    const payloads = reqs.map((r) => verified(ep.secret, r)).sort((a, b) => a.type.localeCompare(b.type));
    expect(payloads).toEqual([
      {
        type: "grade.upgraded",
        timestamp: "2024-01-03T00:00:00.000Z",
        data: {
          symbol: "AAPL",
          kind: "tm_grade",
          previous: { score: 50, label: "Neutral" },
          current: { score: 62, label: "Buy" },
          observedAt: "2024-01-03T00:00:00.000Z",
          source: "desk",
        },
      },
      {
        type: "signal.changed",
        timestamp: "2024-01-02T00:00:00.000Z",
        data: {
          symbol: "AAPL",
          kind: "trading_signal",
          timeframe: "1d",
          previous: { value: "bullish", score: 0.4 },
          current: { value: "bearish", score: -0.2 },
          observedAt: "2024-01-02T00:00:00.000Z",
          source: "desk",
        },
      },
    ]);
    const evs = await storedEvents(t);
    expect(evs.map((e) => e.symbol)).toEqual(["AAPL", "AAPL"]);

    const state = await t.request("GET", "/v1/signals/aapl");
    expect(state.status).toBe(200);
    expect(state.body).toEqual({
      symbol: "AAPL",
      states: [
        {
          source: "desk",
          kind: "tm_grade",
          timeframe: null,
          current: { score: 62, label: "Buy" },
          lastEmitted: { score: 62, label: "Buy" },
          observedAt: "2024-01-03T00:00:00.000Z",
          updatedAt: expect.any(String),
        },
        {
          source: "desk",
          kind: "trading_signal",
          timeframe: "1d",
          current: { value: "bearish", score: -0.2 },
          lastEmitted: { value: "bearish", score: -0.2 },
          observedAt: "2024-01-02T00:00:00.000Z",
          updatedAt: expect.any(String),
        },
      ],
    });
    await rx.close();
  });

  test("re-sending the same batch creates no duplicate events; older snapshots are ignored", async () => {
    const batch = [sig("MSFT", 1, "bullish"), sig("MSFT", 2, "bearish"), sig("MSFT", 3, "neutral")];
    await put(batch);
    const after = (await storedEvents(t)).filter((e) => e.symbol === "MSFT");
    expect(after.map((e) => e.data.current.value)).toEqual(["bearish", "neutral"]);
    await put(batch);
    await put([sig("MSFT", 2, "bullish")]);
    expect((await storedEvents(t)).filter((e) => e.symbol === "MSFT")).toHaveLength(2);
    const [row] = await t.deps.db.select().from(signalStates).where(eq(signalStates.symbol, "MSFT"));
    expect(row?.value).toEqual({ value: "neutral" });
  });

  test("rows of one batch are applied in time order whatever order they arrive in", async () => {
    await put([sig("IBM", 3, "bearish"), sig("IBM", 1, "bullish"), sig("IBM", 2, "neutral")]);
    const evs = (await storedEvents(t)).filter((e) => e.symbol === "IBM");
    expect(evs.map((e) => [e.data.previous.value, e.data.current.value])).toEqual([
      ["bullish", "neutral"],
      ["neutral", "bearish"],
    ]);
  });

  test("state is kept per source and per timeframe", async () => {
    await put([sig("GOOG", 1, "bullish"), sig("GOOG", 1, "bearish", { timeframe: "1h" })]);
    await put([sig("GOOG", 2, "bullish"), sig("GOOG", 2, "bullish", { timeframe: "1h" })]);
    await put([sig("GOOG", 3, "bearish")], "other");
    const evs = (await storedEvents(t)).filter((e) => e.symbol === "GOOG");
    expect(evs.map((e) => [e.data.timeframe, e.data.source, e.data.current.value])).toEqual([
      ["1h", "api", "bullish"],
    ]);
  });

  test("a PUT writes an audit row with the batch id", async () => {
    const res = await put([sig("AMZN", 1, "bullish")]);
    const rows = await t.deps.db.select().from(auditLog).where(eq(auditLog.targetId, res.body.batchId));
    expect(rows).toMatchObject([
      { action: "signals.put", targetType: "signal_batch", details: { count: 1 } },
    ]);
  });
});

describe("validation: one bad row rejects the whole batch", () => {
  const ok = sig("NVDA", 1, "bullish");
  test.each([
    [
      "a grade score out of range",
      [ok, ok, ok, grade("NVDA", 1, 120, "Buy")],
      [{ path: "body.snapshots.3.score", code: "too_big" }],
    ],
    [
      "an unknown kind",
      [ok, { ...ok, kind: "sentiment" }],
      [{ path: "body.snapshots.1.kind", code: "invalid_union" }],
    ],
    [
      "a bad signal value",
      [{ ...ok, value: "up" }],
      [{ path: "body.snapshots.0.value", code: "invalid_value" }],
    ],
    [
      "an unknown field",
      [{ ...ok, colour: "red" }],
      [{ path: "body.snapshots.0", code: "unrecognized_keys" }],
    ],
    [
      "a bad time",
      [{ ...ok, observedAt: "yesterday" }],
      [{ path: "body.snapshots.0.observedAt", code: "invalid_format" }],
    ],
    [
      "a bad symbol",
      [{ ...ok, symbol: "BAD SYMBOL" }],
      [{ path: "body.snapshots.0.symbol", code: "invalid_format" }],
    ],
    ["an empty batch", [], [{ path: "body.snapshots", code: "too_small" }]],
    [
      "a NUL in a grade's label (the database could not store it)",
      [grade("NVDA", 1, 50, "a\u0000b")],
      [{ path: "body.snapshots.0.label", code: "custom" }],
    ],
    [
      "a control character in a component's name",
      [{ ...grade("NVDA", 1, 50, "Buy"), components: { "q\u0000": 1 } }],
      [{ path: "body.snapshots.0.components.q\u0000" }],
    ],
  ])("%s → 400 naming the field, nothing stored", async (_name, snapshots, errors) => {
    const res = await t.request("PUT", "/v1/signals", { body: { snapshots } });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    expect(res.body).toMatchObject({
      type: "/problems/validation_failed",
      title: "Validation failed",
      status: 400,
      detail: "the request body is invalid",
    });
    expect(res.body.errors).toMatchObject(errors);
    const [inbox] = await t.deps.db.select({ n: count() }).from(signalSnapshots);
    expect(inbox?.n).toBe(0);
    const [st] = await t.deps.db
      .select({ n: count() })
      .from(signalStates)
      .where(eq(signalStates.symbol, "NVDA"));
    expect(st?.n).toBe(0);
  });

  test("more than 1000 snapshots → 400", async () => {
    const res = await t.request("PUT", "/v1/signals", { body: { snapshots: Array(1001).fill(ok) } });
    expect(res.status).toBe(400);
    expect(res.body.errors).toMatchObject([{ path: "body.snapshots", code: "too_big" }]);
  });

  test("an unknown top-level field → 400", async () => {
    const res = await t.request("PUT", "/v1/signals", { body: { snapshots: [ok], wait: true } });
    expect(res.status).toBe(400);
    expect(res.body.errors).toMatchObject([{ path: "body", code: "unrecognized_keys" }]);
  });
});

describe("security", () => {
  test("no token → 401; tenant key → 403 on PUT; operator key without signals:write → 403", async () => {
    expect((await t.request("PUT", "/v1/signals", { token: null, body: { snapshots: [] } })).status).toBe(
      401,
    );
    const tenant = await createTenantWithKey(t.deps.db);
    const asTenant = await t.request("PUT", "/v1/signals", { token: tenant.token, body: { snapshots: [] } });
    expect(asTenant.status).toBe(403);
    expect(asTenant.body).toMatchObject({
      type: "/problems/forbidden",
      detail: "only operator credentials may do this",
    });
    const op = await createKey(t.deps.db, { role: "operator", scopes: ["signals:read"] });
    const noScope = await t.request("PUT", "/v1/signals", { token: op.token, body: { snapshots: [] } });
    expect(noScope.status).toBe(403);
    expect(noScope.body.detail).toBe('this operation needs the "signals:write" scope');
  });

  test("tenants with signals:read may read state; without it they get 403; unknown symbol → 404", async () => {
    await put([sig("TSLA", 1, "bullish")]);
    const reader = await createTenantWithKey(t.deps.db, ["signals:read"]);
    const ok = await t.request("GET", "/v1/signals/TSLA", { token: reader.token });
    expect(ok.status).toBe(200);
    expect(ok.body.states).toHaveLength(1);
    const blind = await createTenantWithKey(t.deps.db, ["events:read"]);
    expect((await t.request("GET", "/v1/signals/TSLA", { token: blind.token })).status).toBe(403);
    const missing = await t.request("GET", "/v1/signals/NOPE");
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({
      type: "/problems/not_found",
      detail: "signal state for symbol NOPE was not found",
    });
  });
});
