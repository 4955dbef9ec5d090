import { and, count, eq, inArray } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { deliveries, signalSnapshots } from "../../../db/schema/index.ts";
import { runDetectJob } from "../../../src/detector/detect.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { createEndpoint, waitUntil } from "../../helpers/fixtures.ts";
import { startReceiver } from "../../helpers/receiver.ts";
import { setEndpointFilters, storedEvents, verified, waitForDetection } from "./helpers.ts";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

const sig = (symbol: string, day: number, value: string) => ({
  symbol,
  kind: "trading_signal",
  observedAt: new Date(Date.UTC(2024, 0, day)).toISOString(),
  value,
});
const grade = (symbol: string, day: number, score: number, label: string) => ({
  symbol,
  kind: "tm_grade",
  observedAt: new Date(Date.UTC(2024, 0, day)).toISOString(),
  score,
  label,
});

async function put(snapshots: unknown[]): Promise<string> {
  const res = await t.request("PUT", "/v1/signals", { body: { snapshots } });
  expect(res.status, res.text).toBe(202);
  return res.body.batchId;
}

/**
 * A real fault: a deferred constraint trigger on `events` that aborts the COMMIT of the n-th
 * transaction that inserts events — after the state update, the event rows and the fan-out jobs
 * were all written. Sequences are not transactional, so the count survives the rollback.
 */
async function injectCommitFault(nth: number): Promise<() => Promise<void>> {
  const { sql } = t.deps;
  await sql.unsafe(`
    create sequence if not exists fault_seq;
    select setval('fault_seq', 1, false);
    create or replace function fail_nth_commit() returns trigger language plpgsql as $$
    begin
      if nextval('fault_seq') = ${nth} then raise exception 'injected fault at commit'; end if;
      return null;
    end $$;
    create constraint trigger fail_nth_commit after insert on events
      deferrable initially deferred for each row execute function fail_nth_commit();`);
  return async () => {
    await sql.unsafe("drop trigger if exists fail_nth_commit on events");
  };
}

async function detectJobRetries(batchId: string): Promise<number> {
  const rows = await t.deps.sql<{ retry_count: number; state: string }[]>`
    select retry_count, state from pgboss.job where name = 'detect' and data->>'batchId' = ${batchId}`;
  return rows[0]?.state === "completed" ? (rows[0]?.retry_count ?? -1) : -1;
}

describe("transactional safety", () => {
  test("a crash at commit, after events and fan-out were written, loses nothing and doubles nothing", async () => {
    const rx = await startReceiver();
    const ep = await createEndpoint(t, { url: rx.url });
    await put([sig("BTC", 1, "bullish"), grade("BTC", 1, 50, "Neutral")]);
    await waitForDetection(t);
    const restore = await injectCommitFault(1);
    let batchId = "";
    try {
      batchId = await put([sig("BTC", 2, "bearish"), grade("BTC", 2, 40, "Sell")]);
      await waitUntil(
        async () => (await detectJobRetries(batchId)) >= 0,
        20_000,
        "the detect job to complete",
      );
    } finally {
      await restore();
    }
    await waitForDetection(t);
    // The first try really failed (and was retried by pg-boss) …
    expect(await detectJobRetries(batchId)).toBeGreaterThanOrEqual(1);
    // … and each change exists exactly once, delivered exactly once.
    const evs = (await storedEvents(t)).filter((e) => e.symbol === "BTC");
    expect(evs.map((e) => e.type).sort()).toEqual(["grade.downgraded", "signal.changed"]);
    const reqs = await rx.waitFor(2);
    await new Promise((r) => setTimeout(r, 300));
    expect(rx.requests).toHaveLength(2);
    expect(new Set(reqs.map((r) => r.headers["webhook-id"]))).toEqual(new Set(evs.map((e) => e.id)));
    for (const r of reqs) verified(ep.secret, r);
    await rx.close();
  });

  test("a crash between two keys of one job: the committed key is not redone, the other is", async () => {
    await put([sig("ETH", 1, "bullish"), sig("SOL", 1, "bullish")]);
    await waitForDetection(t);
    const before = (await storedEvents(t)).length;
    // The first key's transaction commits; the second one's commit fails.
    const restore = await injectCommitFault(2);
    let batchId = "";
    try {
      batchId = await put([sig("ETH", 2, "bearish"), sig("SOL", 2, "bearish")]);
      await waitUntil(
        async () => (await detectJobRetries(batchId)) >= 0,
        20_000,
        "the detect job to complete",
      );
    } finally {
      await restore();
    }
    await waitForDetection(t);
    expect(await detectJobRetries(batchId)).toBeGreaterThanOrEqual(1);
    const evs = (await storedEvents(t)).slice(before);
    expect(evs.map((e) => e.symbol).sort()).toEqual(["ETH", "SOL"]);
  });

  test("running a finished detect job again changes nothing", async () => {
    const batchId = await put([sig("ADA", 1, "bullish"), sig("ADA", 2, "bearish")]);
    await waitForDetection(t);
    const before = (await storedEvents(t)).length;
    const again = await runDetectJob(t.deps, { batchId });
    expect(again.events).toBe(0);
    expect((await storedEvents(t)).length).toBe(before);
    const [inbox] = await t.deps.db.select({ n: count() }).from(signalSnapshots);
    expect(inbox?.n).toBe(0);
  });

  test("concurrent detect jobs for one key apply its snapshots once, in time order", async () => {
    // Two batches committed before any worker runs them; whichever job runs first drains both.
    const a = await put([sig("DOT", 1, "bullish"), sig("DOT", 2, "bearish")]);
    const b = await put([sig("DOT", 3, "bullish"), sig("DOT", 4, "neutral")]);
    await Promise.all([runDetectJob(t.deps, { batchId: b }), runDetectJob(t.deps, { batchId: a })]);
    await waitForDetection(t);
    const evs = (await storedEvents(t)).filter((e) => e.symbol === "DOT");
    expect(evs.map((e) => e.data.current.value)).toEqual(["bearish", "bullish", "neutral"]);
  });
});

describe("endpoint filters, through real deliveries", () => {
  test("symbol lists and `grade.*` wildcards select what each endpoint receives", async () => {
    const rxs = await Promise.all([startReceiver(), startReceiver(), startReceiver(), startReceiver()]);
    const [btcOnly, gradesOnly, ethSignals, all] = await Promise.all(
      rxs.map((rx) => createEndpoint(t, { url: rx.url })),
    );
    if (!btcOnly || !gradesOnly || !ethSignals || !all) throw new Error("endpoints");
    await setEndpointFilters(t, btcOnly.id, { symbols: ["XBT"] });
    await setEndpointFilters(t, gradesOnly.id, { eventTypes: ["grade.*"] });
    await setEndpointFilters(t, ethSignals.id, { symbols: ["xet"], eventTypes: ["signal.changed"] });

    await put([sig("XBT", 1, "bullish"), grade("XBT", 1, 50, "Neutral"), sig("XET", 1, "bullish")]);
    await put([grade("XET", 1, 50, "Neutral"), grade("XSO", 1, 50, "Neutral")]);
    await put([
      sig("XBT", 2, "bearish"),
      grade("XBT", 2, 70, "Buy"),
      sig("XET", 2, "bearish"),
      grade("XET", 2, 30, "Sell"),
      grade("XSO", 2, 56, "Neutral"),
    ]);
    await waitForDetection(t);
    const settled = async () => {
      const rows = await t.deps.db
        .select({ n: count() })
        .from(deliveries)
        .where(
          and(
            eq(deliveries.status, "pending"),
            inArray(
              deliveries.endpointId,
              [btcOnly, gradesOnly, ethSignals, all].map((e) => e.id),
            ),
          ),
        );
      return (rows[0]?.n ?? 1) === 0;
    };
    await waitUntil(settled, 10_000, "deliveries to settle");

    const got = (i: number, secret: string) =>
      rxs[i]?.requests
        .map((r) => verified(secret, r))
        .map((p) => `${p.type} ${p.data.symbol}`)
        .sort();
    expect(got(0, btcOnly.secret)).toEqual(["grade.upgraded XBT", "signal.changed XBT"]);
    expect(got(1, gradesOnly.secret)).toEqual([
      "grade.downgraded XET",
      "grade.upgraded XBT",
      "grade.upgraded XSO",
    ]);
    expect(got(2, ethSignals.secret)).toEqual(["signal.changed XET"]);
    expect(got(3, all.secret)).toEqual([
      "grade.downgraded XET",
      "grade.upgraded XBT",
      "grade.upgraded XSO",
      "signal.changed XBT",
      "signal.changed XET",
    ]);
    await Promise.all(rxs.map((rx) => rx.close()));
  });
});
