import { describe, expect, test } from "vitest";
import { parseReplayArgs } from "../../../src/cli/replay.ts";
import { DEFAULT_MODEL, modelSnapshots, momentumLabel, trendOf } from "../../../src/detector/model.ts";
import { parsePriceCsv, parsePriceDate } from "../../../src/detector/prices.ts";
import { retryAfterMs } from "../../../src/detector/upstream/poll.ts";

describe("price files", () => {
  test.each([
    ["2000-01-03", "2000-01-03T00:00:00.000Z"],
    ["Jan 1 2000", "2000-01-01T00:00:00.000Z"],
    ["Dec 31 2010", "2010-12-31T00:00:00.000Z"],
    ["2024-03-01T15:30:00", "2024-03-01T15:30:00.000Z"],
    ["2024-03-01T15:30:00+01:00", "2024-03-01T14:30:00.000Z"],
  ])("%s is read as UTC", (cell, iso) => {
    expect(parsePriceDate(cell)?.toISOString()).toBe(iso);
  });

  test.each(["2000-02-30", "Foo 1 2000", "yesterday", ""])("%s is unreadable", (cell) => {
    expect(parsePriceDate(cell)).toBeNull();
  });

  test("both layouts", () => {
    expect(parsePriceCsv("symbol,date,price\nmsft,Jan 1 2000,39.81\n")).toEqual([
      { symbol: "MSFT", date: new Date("2000-01-01T00:00:00Z"), close: 39.81 },
    ]);
    expect(
      parsePriceCsv("date,open,high,low,close,adjclose,volume\n2000-01-03,1,2,0.5,1.5,1.5,9\n", {
        symbol: "spx",
      }),
    ).toEqual([{ symbol: "SPX", date: new Date("2000-01-03T00:00:00Z"), close: 1.5 }]);
    expect(() => parsePriceCsv("when,close\n")).toThrow("line 1: expected a header with date and close");
  });
});

describe("reference model", () => {
  test("labels and trend bands", () => {
    expect([0, 19.99, 20, 59.99, 60, 80, 100].map(momentumLabel)).toEqual([
      "Strong Sell",
      "Strong Sell",
      "Sell",
      "Neutral",
      "Buy",
      "Strong Buy",
      "Strong Buy",
    ]);
    expect([0.003, 0.0025, -0.0025, -0.003].map((s) => trendOf(s, 0.0025))).toEqual([
      "bullish",
      "neutral",
      "neutral",
      "bearish",
    ]);
  });

  test("signals start at the slow period, grades once RSI is stable; a rising series is bullish and strong", () => {
    const points = Array.from({ length: 40 }, (_, i) => ({
      symbol: "UP",
      date: new Date(Date.UTC(2020, 0, i + 1)),
      close: 100 + i,
    }));
    const snaps = modelSnapshots(points, "t", DEFAULT_MODEL);
    const signals = snaps.filter((s) => s.kind === "trading_signal");
    const grades = snaps.filter((s) => s.kind === "momentum_grade");
    expect(signals).toHaveLength(40 - 25);
    expect(grades).toHaveLength(40 - 14);
    expect(signals.at(-1)?.value).toMatchObject({ value: "bullish" });
    expect(grades.at(-1)?.value).toEqual({ score: 100, label: "Strong Buy" });
  });
});

describe("Retry-After", () => {
  const now = new Date("2025-01-01T00:00:00Z");
  test.each([
    ["3", 3000],
    [" 0 ", 0],
    ["Wed, 01 Jan 2025 00:00:10 GMT", 10_000],
    ["Tue, 31 Dec 2024 23:00:00 GMT", 0],
    ["soon", null],
    [null, null],
  ])("%s → %s ms", (header, ms) => {
    expect(retryAfterMs(header, now)).toBe(ms);
  });
});

describe("replay arguments", () => {
  test("defaults and overrides", () => {
    expect(parseReplayArgs(["f.csv"])).toEqual({
      file: "f.csv",
      source: "replay",
      model: DEFAULT_MODEL,
      batchSize: 500,
      dryRun: false,
    });
    expect(
      parseReplayArgs([
        "f.csv",
        "--symbol",
        "SPX",
        "--fast",
        "5",
        "--slow",
        "20",
        "--band",
        "0",
        "--source",
        "bt",
      ]),
    ).toMatchObject({
      symbol: "SPX",
      source: "bt",
      model: { fast: 5, slow: 20, band: 0 },
    });
  });

  test.each([
    [[], "expected exactly one FILE"],
    [["a", "b"], "expected exactly one FILE"],
    [["f", "--model", "lstm"], 'unknown --model "lstm"'],
    [["f", "--fast", "30"], "--fast must be shorter than --slow"],
    [["f", "--source", "Bad Name"], "--source:"],
    [["f", "--timeframe", "1w"], "--timeframe must be 1d or 1h"],
    [["f", "--batch", "0"], "--batch must be an integer ≥ 1"],
  ])("%j → %s", (args, message) => {
    expect(() => parseReplayArgs(args)).toThrow(message);
  });
});
