import { count } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { signalSnapshots, signalStates, upstreamCalls } from "../../../db/schema/index.ts";
import {
  type PollOptions,
  pollOptionsFromConfig,
  pollUpstream,
} from "../../../src/detector/upstream/poll.ts";
import { QUEUES } from "../../../src/jobs/queues.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { waitUntil } from "../../helpers/fixtures.ts";
import { envelope, fixture, startFakeUpstream } from "./fake-upstream.ts";
import { storedEvents, waitForDetection } from "./helpers.ts";

let t: TestApp;
let up: Awaited<ReturnType<typeof startFakeUpstream>>;
beforeAll(async () => {
  up = await startFakeUpstream();
  t = await startTestApp({
    env: {
      UPSTREAM_BASE_URL: up.url,
      UPSTREAM_API_KEY: "tm-test-key",
      // Never fires during the test; polls are started by hand or by sending a job.
      UPSTREAM_POLL_CRON: "0 0 1 1 *",
      UPSTREAM_MAX_CALLS_PER_HOUR: "1000",
    },
  });
});
afterAll(async () => {
  await t?.close();
  await up?.close();
});
beforeEach(async () => {
  // A test that polls without waiting leaves detection running: let it finish before clearing, or
  // its late writes land in the next test's state.
  await waitForDetection(t);
  await t.deps.db.delete(signalStates);
  await t.deps.db.delete(signalSnapshots);
  await t.deps.db.delete(upstreamCalls);
});

function options(overrides: Partial<PollOptions> = {}): PollOptions {
  const o = pollOptionsFromConfig(t.deps, { backoffBaseMs: 20, maxRetryAfterMs: 5_000, ...overrides });
  if (!o) throw new Error("poller not configured");
  return o;
}

const signalRow = (symbol: string, signal: number | string, date = "2025-04-10T00:00:00.000Z") => ({
  TOKEN_ID: 1,
  TOKEN_SYMBOL: symbol,
  DATE: date,
  TRADING_SIGNAL: signal,
  TOKEN_TREND: signal,
});

/** The three fixture files, one page each. */
const fixtures = () => ({
  "/v2/trading-signals": () => envelope(fixture("trading-signals").data),
  "/v2/tm-grade": () => envelope(fixture("tm-grade").data),
  "/v2/fundamental-grade": () => envelope(fixture("fundamental-grade").data),
});

async function states() {
  const rows = await t.deps.db.select().from(signalStates);
  return Object.fromEntries(rows.map((r) => [`${r.symbol} ${r.kind}`, r.value]));
}

describe("reading the provider", () => {
  test("fixture shapes: key header, limit, string numbers, TRADING_SIGNAL 0 keeps the trend; baseline only", async () => {
    up.reset(fixtures());
    const report = await pollUpstream(t.deps, options());
    expect(report.resources).toEqual({
      "trading-signals": { status: "ok", pages: 1, rows: 3 },
      "tm-grade": { status: "ok", pages: 1, rows: 2 },
      "fundamental-grade": { status: "ok", pages: 1, rows: 2 },
    });
    expect(up.requests.map((r) => [r.path, r.page, r.limit, r.apiKey])).toEqual([
      ["/v2/trading-signals", 1, 100, "tm-test-key"],
      ["/v2/tm-grade", 1, 100, "tm-test-key"],
      ["/v2/fundamental-grade", 1, 100, "tm-test-key"],
    ]);
    await waitForDetection(t);
    expect(await states()).toEqual({
      "BTC trading_signal": { value: "bearish" }, // TRADING_SIGNAL 0, TOKEN_TREND -1
      "ETH trading_signal": { value: "bullish" },
      "SOL trading_signal": { value: "bearish" },
      "BTC tm_grade": { score: 72.41, label: "Buy", components: { quant: 64.3 } },
      "ETH tm_grade": { score: 38.7, label: "Sell", components: { quant: 41.9 } },
      "BTC fundamental_grade": { score: 91.2, label: "storeOfValue" },
      "SOL fundamental_grade": { score: 78.5, label: "emerging" },
    });
    expect(await storedEvents(t)).toEqual([]);
  });

  test("pages from 1 until a short page; a second poll's changes become events with the upstream source", async () => {
    const rows = Array.from({ length: 207 }, (_, i) => signalRow(`T${i}`, 1));
    up.reset({
      "/v2/trading-signals": (r) => envelope(rows.slice((r.page - 1) * r.limit, r.page * r.limit)),
    });
    const first = await pollUpstream(t.deps, options({ resources: ["trading-signals"] }));
    expect(first.resources["trading-signals"]).toEqual({ status: "ok", pages: 3, rows: 207 });
    expect(up.requests.map((r) => r.page)).toEqual([1, 2, 3]);
    await waitForDetection(t);

    const flipped = rows.map((r, i) => (i === 150 ? signalRow("T150", -1, "2025-04-11T00:00:00.000Z") : r));
    up.reset({
      "/v2/trading-signals": (r) => envelope(flipped.slice((r.page - 1) * r.limit, r.page * r.limit)),
    });
    await pollUpstream(t.deps, options({ resources: ["trading-signals"] }));
    await waitForDetection(t);
    const evs = await storedEvents(t);
    expect(evs.map((e) => [e.type, e.symbol, e.data.previous, e.data.current, e.data.source])).toEqual([
      ["signal.changed", "T150", { value: "bullish" }, { value: "bearish" }, "tokenmetrics"],
    ]);
  });

  test("an exact multiple of the page size needs one more (empty) page", async () => {
    const rows = Array.from({ length: 100 }, (_, i) => signalRow(`P${i}`, 1));
    up.reset({ "/v2/trading-signals": (r) => envelope(rows.slice((r.page - 1) * 100, r.page * 100)) });
    const report = await pollUpstream(t.deps, options({ resources: ["trading-signals"] }));
    expect(report.resources["trading-signals"]).toEqual({ status: "ok", pages: 2, rows: 100 });
  });

  test("lower snake case field names and numbers as strings are accepted", async () => {
    up.reset({
      "/v2/trading-signals": () =>
        envelope([{ token_symbol: "ada", date: "2025-04-10T00:00:00Z", trading_signal: "-1" }]),
      "/v2/tm-grade": () =>
        envelope([{ token_symbol: "ADA", tm_grade: " 55.5 ", Tm_Grade_Signal: "Neutral" }]),
    });
    const report = await pollUpstream(t.deps, options({ resources: ["trading-signals", "tm-grade"] }));
    expect(report.snapshots).toBe(2);
    await waitForDetection(t);
    expect(await states()).toEqual({
      "ADA trading_signal": { value: "bearish" },
      "ADA tm_grade": { score: 55.5, label: "Neutral" },
    });
  });

  test("UPSTREAM_SYMBOLS is sent as `symbol` and enforced locally", async () => {
    up.reset(fixtures());
    await pollUpstream(t.deps, options({ symbols: ["ETH"], resources: ["trading-signals"] }));
    expect(up.requests[0]?.query.get("symbol")).toBe("ETH");
    await waitForDetection(t);
    expect(Object.keys(await states())).toEqual(["ETH trading_signal"]);
  });
});

describe("failures change nothing", () => {
  test.each([
    ["malformed JSON", { body: '{"success": true, "data": [' }, /page 1: body is not JSON/],
    [
      "wrong types",
      envelope([signalRow("BTC", 1), { ...signalRow("ETH", 1), TRADING_SIGNAL: "strong" }]),
      /page 1: data\.1: trading_signal/,
    ],
    [
      "success: false",
      { body: JSON.stringify({ success: false, message: "Invalid API key", length: 0, data: [] }) },
      /success: false \(Invalid API key\)/,
    ],
    ["no data array", { body: JSON.stringify({ success: true, message: "ok" }) }, /envelope: data/],
    ["an HTML error page", { status: 200, body: "<html>oops</html>" }, /not JSON/],
  ])("%s → logged as malformed, nothing stored, other resources still read", async (_n, reply, reason) => {
    up.reset({ ...fixtures(), "/v2/trading-signals": () => reply });
    const report = await pollUpstream(t.deps, options());
    expect(report.resources["trading-signals"]).toMatchObject({
      status: "malformed",
      reason: expect.stringMatching(reason),
    });
    expect(report.resources["tm-grade"]?.status).toBe("ok");
    await waitForDetection(t);
    expect(Object.keys(await states()).filter((k) => k.endsWith("trading_signal"))).toEqual([]);
    expect(Object.keys(await states())).toHaveLength(4);
  });

  test("a bad second page discards the first page too", async () => {
    const rows = Array.from({ length: 100 }, (_, i) => signalRow(`Q${i}`, 1));
    up.reset({
      "/v2/trading-signals": (r) => (r.page === 1 ? envelope(rows) : { body: "not json" }),
    });
    const report = await pollUpstream(t.deps, options({ resources: ["trading-signals"] }));
    expect(report.resources["trading-signals"]).toMatchObject({
      status: "malformed",
      reason: expect.stringMatching(/^page 2:/),
    });
    expect(report.snapshots).toBe(0);
    const [inbox] = await t.deps.db.select({ n: count() }).from(signalSnapshots);
    expect(inbox?.n).toBe(0);
  });
});

describe("rate limits, back-off and the call budget", () => {
  test("429 honours Retry-After before asking again", async () => {
    up.reset({
      "/v2/trading-signals": (_r, nth) =>
        nth === 0
          ? { status: 429, headers: { "retry-after": "1" }, body: "{}" }
          : envelope([signalRow("BTC", 1)]),
    });
    const report = await pollUpstream(t.deps, options({ resources: ["trading-signals"] }));
    expect(report.resources["trading-signals"]?.status).toBe("ok");
    const [a, b] = up.requests;
    expect(up.requests).toHaveLength(2);
    expect((b?.at ?? 0) - (a?.at ?? 0)).toBeGreaterThanOrEqual(1000);
  });

  test("a Retry-After longer than the patience leaves the resource for the next poll", async () => {
    up.reset({
      "/v2/trading-signals": () => ({ status: 429, headers: { "retry-after": "3600" }, body: "{}" }),
    });
    const report = await pollUpstream(t.deps, options({ resources: ["trading-signals"] }));
    expect(report.resources["trading-signals"]).toMatchObject({
      status: "failed",
      reason: expect.stringMatching(/Retry-After 3600/),
    });
    expect(up.requests).toHaveLength(1);
  });

  test("5xx backs off with growing gaps and then succeeds", async () => {
    up.reset({
      "/v2/trading-signals": (_r, nth) =>
        nth < 2 ? { status: 503, body: "busy" } : envelope([signalRow("BTC", 1)]),
    });
    const report = await pollUpstream(
      t.deps,
      options({ resources: ["trading-signals"], backoffBaseMs: 100 }),
    );
    expect(report.resources["trading-signals"]?.status).toBe("ok");
    const at = up.requests.map((r) => r.at);
    expect(at).toHaveLength(3);
    expect((at[1] ?? 0) - (at[0] ?? 0)).toBeGreaterThanOrEqual(80); // 100 ms −20 %
    expect((at[2] ?? 0) - (at[1] ?? 0)).toBeGreaterThanOrEqual(160); // 200 ms −20 %
  });

  test("persistent 5xx gives up after maxAttempts and changes nothing", async () => {
    up.reset({ "/v2/trading-signals": () => ({ status: 500, body: "down" }) });
    const report = await pollUpstream(t.deps, options({ resources: ["trading-signals"], maxAttempts: 3 }));
    expect(report.resources["trading-signals"]).toMatchObject({
      status: "failed",
      reason: expect.stringMatching(/gave up after 3 attempts \(HTTP 500\)/),
    });
    expect(up.requests).toHaveLength(3);
    expect(report.snapshots).toBe(0);
  });

  test("a 401 is not retried", async () => {
    up.reset({ "/v2/trading-signals": () => ({ status: 401, body: '{"message":"bad key"}' }) });
    const report = await pollUpstream(t.deps, options({ resources: ["trading-signals"] }));
    expect(report.resources["trading-signals"]).toMatchObject({
      status: "failed",
      reason: expect.stringMatching(/^HTTP 401/),
    });
    expect(up.requests).toHaveLength(1);
  });

  test("the calls-per-hour budget is counted in Postgres and shared by concurrent pollers", async () => {
    const rows = Array.from({ length: 100 }, (_, i) => signalRow(`B${i}`, 1));
    up.reset({ "/v2/trading-signals": () => envelope(rows) }); // never a short page
    const opts = options({ resources: ["trading-signals"], maxCallsPerHour: 5 });
    const reports = await Promise.all([
      pollUpstream(t.deps, opts),
      pollUpstream(t.deps, opts),
      pollUpstream(t.deps, opts),
    ]);
    expect(up.requests).toHaveLength(5);
    for (const r of reports) expect(r.resources["trading-signals"]?.status).toBe("budget_exhausted");
    const [calls] = await t.deps.db.select({ n: count() }).from(upstreamCalls);
    expect(calls?.n).toBe(5);
    // Spent: the next poll makes no call at all.
    up.reset(fixtures());
    const next = await pollUpstream(t.deps, opts);
    expect(next.resources["trading-signals"]?.status).toBe("budget_exhausted");
    expect(up.requests).toHaveLength(0);
  });

  test("calls older than an hour no longer count", async () => {
    await t.deps.db
      .insert(upstreamCalls)
      .values(
        Array.from({ length: 5 }, () => ({ path: "/old", calledAt: new Date(Date.now() - 3_700_000) })),
      );
    up.reset(fixtures());
    const report = await pollUpstream(
      t.deps,
      options({ resources: ["trading-signals"], maxCallsPerHour: 5 }),
    );
    expect(report.resources["trading-signals"]?.status).toBe("ok");
  });
});

test("the poll queue's worker runs a poll (what the cron schedule sends)", async () => {
  up.reset(fixtures());
  await t.deps.boss.send(QUEUES.poll, { kind: "tick" });
  await waitUntil(async () => up.requests.length >= 3, 15_000, "the worker to poll");
  await waitUntil(async () => Object.keys(await states()).length === 7, 15_000, "states from the poll");
  const schedules = await t.deps.boss.getSchedules();
  expect(schedules.map((s) => [s.name, s.cron])).toContainEqual([QUEUES.poll, "0 0 1 1 *"]);
});
