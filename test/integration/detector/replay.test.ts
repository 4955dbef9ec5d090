import { readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { count, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { deliveries, signalSnapshots } from "../../../db/schema/index.ts";
import { vegaDatasetPath } from "../../../src/detector/datasets.ts";
import { feedSnapshots, ReplayInputError, readReplayInput } from "../../../src/detector/replay.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { createEndpoint, waitUntil } from "../../helpers/fixtures.ts";
import { startReceiver } from "../../helpers/receiver.ts";
import { storedEvents, verified, waitForDetection } from "./helpers.ts";

const SP500 = vegaDatasetPath("sp500-2000.csv");
const STOCKS = vegaDatasetPath("stocks.csv");

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ env: { WORKER_CONCURRENCY: "64", ENDPOINT_MAX_CONCURRENCY: "32" } });
});
afterAll(async () => {
  await t?.close();
});

// ---------------------------------------------------------------------------------------------
// An independent recount, straight from the CSV: its own parsing, its own EMA / RSI (the textbook
// formulas: EMA seeded with the first close; Wilder's RSI seeded with the simple mean of the first
// n moves), its own change rules. It shares no code with src/detector.
// ---------------------------------------------------------------------------------------------

type Row = { symbol: string; t: number; close: number };

function readCsv(path: string, symbol?: string): Row[] {
  const [head, ...lines] = readFileSync(path, "utf8").trim().split("\n");
  const cols = (head ?? "").split(",");
  const di = cols.indexOf("date");
  const ci = cols.includes("close") ? cols.indexOf("close") : cols.indexOf("price");
  const si = cols.indexOf("symbol");
  return lines.map((l) => {
    const c = l.split(",");
    const d = c[di] ?? "";
    return {
      symbol: symbol ?? c[si] ?? "",
      t: /^\d{4}-/.test(d) ? Date.parse(`${d}T00:00:00Z`) : Date.parse(`${d} 00:00:00 UTC`),
      close: Number(c[ci]),
    };
  });
}

type Count = { "signal.changed": number; "grade.upgraded": number; "grade.downgraded": number };

function recount(rows: Row[]): Count {
  const out: Count = { "signal.changed": 0, "grade.upgraded": 0, "grade.downgraded": 0 };
  const series = new Map<string, Row[]>();
  for (const r of rows) series.set(r.symbol, [...(series.get(r.symbol) ?? []), r]);
  const rank = ["Strong Sell", "Sell", "Neutral", "Buy", "Strong Buy"];
  for (const list of series.values()) {
    list.sort((a, b) => a.t - b.t);
    const kF = 2 / 13;
    const kS = 2 / 27;
    let fast: number | undefined;
    let slow: number | undefined;
    let prevClose: number | undefined;
    const gains: number[] = [];
    const losses: number[] = [];
    let avgGain: number | undefined;
    let avgLoss: number | undefined;
    let trend: string | undefined;
    let emitted: { score: number; label: string } | undefined;
    list.forEach((r, i) => {
      fast = r.close * kF + (fast ?? r.close) * (1 - kF);
      slow = r.close * kS + (slow ?? r.close) * (1 - kS);
      if (i + 1 >= 26) {
        const spread = (fast - slow) / slow;
        const now = spread > 0.0025 ? "bull" : spread < -0.0025 ? "bear" : "flat";
        if (trend !== undefined && now !== trend) out["signal.changed"]++;
        trend = now;
      }
      if (prevClose !== undefined) {
        const up = r.close > prevClose ? r.close - prevClose : 0;
        const down = r.close > prevClose ? 0 : prevClose - r.close;
        if (avgGain === undefined || avgLoss === undefined) {
          gains.push(up);
          losses.push(down);
          if (gains.length === 14) {
            avgGain = gains.reduce((a, b) => a + b, 0) / 14;
            avgLoss = losses.reduce((a, b) => a + b, 0) / 14;
          }
        } else {
          avgGain = (up - avgGain) * (1 / 14) + avgGain;
          avgLoss = (down - avgLoss) * (1 / 14) + avgLoss;
        }
        if (avgGain !== undefined && avgLoss !== undefined) {
          const rsi = avgLoss === 0 ? 100 : 100 - 100 / (avgGain / avgLoss + 1);
          const score = Math.round(rsi * 100) / 100;
          const label = rank[Math.min(4, Math.floor(score / 20))] ?? "?";
          if (emitted && (label !== emitted.label || Math.abs(score - emitted.score) >= 5)) {
            const up =
              score !== emitted.score
                ? score > emitted.score
                : rank.indexOf(label) > rank.indexOf(emitted.label);
            out[up ? "grade.upgraded" : "grade.downgraded"]++;
            emitted = { score, label };
          }
          emitted ??= { score, label };
        }
      }
      prevClose = r.close;
    });
  }
  return out;
}

function countTypes(types: string[]): Count {
  const c: Count = { "signal.changed": 0, "grade.upgraded": 0, "grade.downgraded": 0 };
  for (const ty of types) c[ty as keyof Count]++;
  return c;
}

describe("replay of real market history", () => {
  test("sp500-2000.csv and stocks.csv: recount = events = verified deliveries", {
    timeout: 180_000,
  }, async () => {
    const rx = await startReceiver();
    const ep = await createEndpoint(t, { url: rx.url });
    const progress: number[] = [];
    const sp = await readReplayInput(SP500, { source: "replay", symbol: "SPX" });
    const st = await readReplayInput(STOCKS, { source: "replay" });
    expect(sp.rows).toBeGreaterThan(5000);
    expect(st.symbols.sort()).toEqual(["AAPL", "AMZN", "GOOG", "IBM", "MSFT"]);
    const spStats = await feedSnapshots(t.deps, sp.snapshots, { onProgress: (p) => progress.push(p.done) });
    const stStats = await feedSnapshots(t.deps, st.snapshots, { batchSize: 200 });
    // Progress is reported batch by batch, up to the total.
    expect(progress.length).toBeGreaterThan(10);
    expect(progress.at(-1)).toBe(sp.snapshots.length);

    const expected = recount([...readCsv(SP500, "SPX"), ...readCsv(STOCKS)]);
    const total = expected["signal.changed"] + expected["grade.upgraded"] + expected["grade.downgraded"];
    expect(expected["signal.changed"]).toBeGreaterThan(100);
    expect(spStats.events + stStats.events).toBe(total);

    const events = await storedEvents(t);
    expect(countTypes(events.map((e) => e.type))).toEqual(expected);

    await waitForDetection(t, 60_000);
    await waitUntil(
      async () => {
        const [p] = await t.deps.db
          .select({ n: count() })
          .from(deliveries)
          .where(eq(deliveries.endpointId, ep.id));
        return p?.n === total && rx.requests.length >= total;
      },
      150_000,
      `${total} deliveries`,
    );
    const ids = new Set<string>();
    const types: string[] = [];
    for (const req of rx.requests) {
      const payload = verified(ep.secret, req); // throws on a bad signature
      const id = String(req.headers["webhook-id"]);
      if (!ids.has(id)) types.push(payload.type);
      ids.add(id);
    }
    expect(ids.size).toBe(total);
    expect(countTypes(types)).toEqual(expected);
    await rx.close();
  });

  test("replaying the same file again changes nothing", { timeout: 60_000 }, async () => {
    const st = await readReplayInput(STOCKS, { source: "replay" });
    const before = (await storedEvents(t)).length;
    const again = await feedSnapshots(t.deps, st.snapshots);
    expect(again.events).toBe(0);
    expect(again.older + again.identical).toBe(st.snapshots.length);
    expect((await storedEvents(t)).length).toBe(before);
  });
});

describe("JSON lines input", () => {
  test("snapshots are applied in time order, whatever the file order", async () => {
    const file = join(tmpdir(), `replay-${Date.now()}.jsonl`);
    const lines = [
      { symbol: "ZZJ", kind: "trading_signal", observedAt: "2024-01-03T00:00:00Z", value: "bearish" },
      { symbol: "ZZJ", kind: "trading_signal", observedAt: "2024-01-01T00:00:00Z", value: "bullish" },
      {
        symbol: "ZZJ",
        kind: "fundamental_grade",
        observedAt: "2024-01-01T00:00:00Z",
        score: 80,
        label: "blueChip",
      },
      {
        symbol: "ZZJ",
        kind: "fundamental_grade",
        observedAt: "2024-01-02T00:00:00Z",
        score: 70,
        label: "emerging",
      },
    ];
    writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join("\n")}\n\n`);
    const input = await readReplayInput(file, { source: "jsonl" });
    expect(input).toMatchObject({ format: "snapshots", rows: 4, symbols: ["ZZJ"] });
    const stats = await feedSnapshots(t.deps, input.snapshots, { mode: "jobs" });
    expect(stats.snapshots).toBe(0); // jobs mode leaves the work to the workers
    await waitForDetection(t);
    const evs = (await storedEvents(t)).filter((e) => e.symbol === "ZZJ");
    expect(evs.map((e) => [e.type, e.data.source])).toEqual([
      ["grade.downgraded", "jsonl"],
      ["signal.changed", "jsonl"],
    ]);
  });

  test.each([
    [
      '{"symbol":"A","kind":"trading_signal","observedAt":"2024-01-01T00:00:00Z","value":"bullish"}\nnot json\n',
      "line 2: not JSON",
    ],
    [
      '{"symbol":"A","kind":"mood","observedAt":"2024-01-01T00:00:00Z"}\n',
      "line 1: kind: Invalid discriminator value",
    ],
    [
      '{"symbol":"A","kind":"tm_grade","observedAt":"2024-01-01T00:00:00Z","score":"high","label":"Buy"}\n',
      "line 1: score:",
    ],
  ])("a bad line rejects the whole file before anything is applied (%#)", async (text, message) => {
    const file = join(tmpdir(), `replay-bad-${Date.now()}.jsonl`);
    writeFileSync(file, text);
    const err = await readReplayInput(file, { source: "x" }).catch((e) => e);
    expect(err).toBeInstanceOf(ReplayInputError);
    expect(err.message).toContain(message);
    const [inbox] = await t.deps.db.select({ n: count() }).from(signalSnapshots);
    expect(inbox?.n).toBe(0);
  });

  test("a CSV without a symbol column needs --symbol; bad rows name the line", async () => {
    const file = join(tmpdir(), `prices-${Date.now()}.csv`);
    writeFileSync(file, "date,open,high,low,close\n2024-01-02,1,1,1,10\n2024-01-03,1,1,1,abc\n");
    await expect(readReplayInput(file, { source: "x" })).rejects.toThrow("no symbol column: pass --symbol");
    await expect(readReplayInput(file, { source: "x", symbol: "Q" })).rejects.toThrow(
      'line 3: close must be a positive number, got "abc"',
    );
  });
});
