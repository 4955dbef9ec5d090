import { describe, expect, test } from "vitest";
import { decide, type KeyState } from "../../../src/detector/rules.ts";
import { type Snapshot, SnapshotSchema } from "../../../src/detector/snapshot.ts";

const opts = { gradeScoreThreshold: 5 };
const day = (n: number) => new Date(Date.UTC(2024, 0, n));

const signal = (n: number, value: "bullish" | "bearish" | "neutral", score?: number): Snapshot => ({
  source: "api",
  symbol: "BTC",
  kind: "trading_signal",
  timeframe: "1d",
  observedAt: day(n),
  value: score === undefined ? { value } : { value, score },
});
const grade = (n: number, score: number, label: string): Snapshot => ({
  source: "api",
  symbol: "ETH",
  kind: "tm_grade",
  timeframe: "",
  observedAt: day(n),
  value: { score, label },
});

/** Applies snapshots in order and returns the outcomes and events. */
function run(snaps: Snapshot[]) {
  let state: KeyState | null = null;
  const outcomes: string[] = [];
  const events: { type: string; data: Record<string, unknown> }[] = [];
  for (const s of snaps) {
    const d = decide(state, s, opts);
    outcomes.push(d.outcome);
    if (d.outcome === "changed") events.push({ type: d.event.type, data: d.event.data });
    state = d.state;
  }
  return { outcomes, events, state };
}

describe("signals", () => {
  test("the first snapshot is the baseline and emits nothing", () => {
    expect(run([signal(1, "bullish")]).outcomes).toEqual(["baseline"]);
  });

  test("a flip emits signal.changed with previous and current values", () => {
    const r = run([signal(1, "bullish", 0.4), signal(2, "bearish", -0.7)]);
    expect(r.outcomes).toEqual(["baseline", "changed"]);
    expect(r.events).toEqual([
      {
        type: "signal.changed",
        data: {
          symbol: "BTC",
          kind: "trading_signal",
          timeframe: "1d",
          previous: { value: "bullish", score: 0.4 },
          current: { value: "bearish", score: -0.7 },
          observedAt: "2024-01-02T00:00:00.000Z",
          source: "api",
        },
      },
    ]);
  });

  test("every change of value counts, neutral included", () => {
    const r = run([signal(1, "bullish"), signal(2, "neutral"), signal(3, "bearish"), signal(4, "bullish")]);
    expect(r.events.map((e) => [e.data.previous, e.data.current])).toEqual([
      [{ value: "bullish" }, { value: "neutral" }],
      [{ value: "neutral" }, { value: "bearish" }],
      [{ value: "bearish" }, { value: "bullish" }],
    ]);
  });

  test("a score change without a flip updates the state silently", () => {
    const r = run([signal(1, "bullish", 0.1), signal(2, "bullish", 0.9)]);
    expect(r.outcomes).toEqual(["baseline", "updated"]);
    expect(r.state?.value).toEqual({ value: "bullish", score: 0.9 });
  });

  test("an identical snapshot is a no-op; an older one is ignored", () => {
    const r = run([signal(2, "bullish"), signal(2, "bullish"), signal(1, "bearish")]);
    expect(r.outcomes).toEqual(["baseline", "identical", "older"]);
    expect(r.events).toEqual([]);
    expect(r.state?.observedAt).toEqual(day(2));
  });

  test("the same time with a different value is a correction and counts", () => {
    expect(run([signal(2, "bullish"), signal(2, "bearish")]).outcomes).toEqual(["baseline", "changed"]);
  });

  test("a flip back after an older, ignored snapshot is still detected against the stored value", () => {
    const r = run([signal(5, "bullish"), signal(3, "bearish"), signal(6, "bearish")]);
    expect(r.outcomes).toEqual(["baseline", "older", "changed"]);
  });
});

describe("grades", () => {
  test("a move below the threshold is silent; at the threshold it emits", () => {
    const r = run([grade(1, 50, "Neutral"), grade(2, 54.99, "Neutral"), grade(3, 55, "Neutral")]);
    expect(r.outcomes).toEqual(["baseline", "updated", "changed"]);
    expect(r.events[0]).toEqual({
      type: "grade.upgraded",
      data: {
        symbol: "ETH",
        kind: "tm_grade",
        previous: { score: 50, label: "Neutral" },
        current: { score: 55, label: "Neutral" },
        observedAt: "2024-01-03T00:00:00.000Z",
        source: "api",
      },
    });
  });

  test("the threshold counts from the last emitted value, so small steps add up", () => {
    const r = run([grade(1, 50, "Neutral"), grade(2, 47, "Neutral"), grade(3, 44.5, "Neutral")]);
    expect(r.outcomes).toEqual(["baseline", "updated", "changed"]);
    expect(r.events[0]?.type).toBe("grade.downgraded");
    expect(r.events[0]?.data.previous).toEqual({ score: 50, label: "Neutral" });
    expect(r.state?.emitted).toEqual({ score: 44.5, label: "Neutral" });
  });

  test("drifting back within the threshold of the emitted value is silent", () => {
    const r = run([grade(1, 50, "Neutral"), grade(2, 54, "Neutral"), grade(3, 46, "Neutral")]);
    expect(r.outcomes).toEqual(["baseline", "updated", "updated"]);
  });

  test("a label change emits even for a small move; direction follows the score", () => {
    const r = run([grade(1, 59.5, "Neutral"), grade(2, 60.5, "Buy"), grade(3, 59.9, "Neutral")]);
    expect(r.events.map((e) => e.type)).toEqual(["grade.upgraded", "grade.downgraded"]);
  });

  test("a label change with an equal score is ordered by label rank", () => {
    const r = run([grade(1, 60, "Buy"), grade(2, 60, "Neutral")]);
    expect(r.events.map((e) => e.type)).toEqual(["grade.downgraded"]);
    const f = run([
      { ...grade(1, 80, "emerging"), kind: "fundamental_grade" },
      { ...grade(2, 80, "blueChip"), kind: "fundamental_grade" },
    ]);
    expect(f.events.map((e) => e.type)).toEqual(["grade.upgraded"]);
  });

  test("label comparison ignores case and whitespace", () => {
    expect(run([grade(1, 60, "Buy"), grade(2, 61, " buy ")]).outcomes).toEqual(["baseline", "updated"]);
  });

  test("components travel in the payload", () => {
    const base = grade(1, 40, "Sell");
    const next: Snapshot = {
      ...grade(2, 70, "Buy"),
      value: { score: 70, label: "Buy", components: { quant: 64 } },
    };
    expect(run([base, next]).events[0]?.data.current).toEqual({
      score: 70,
      label: "Buy",
      components: { quant: 64 },
    });
  });

  test("a configurable threshold", () => {
    const d = decide(
      { value: { score: 50, label: "N" }, emitted: { score: 50, label: "N" }, observedAt: day(1) },
      grade(2, 52, "N"),
      { gradeScoreThreshold: 2 },
    );
    expect(d.outcome).toBe("changed");
  });
});

describe("snapshot schema", () => {
  test("an unknown kind is rejected", () => {
    const r = SnapshotSchema.safeParse({ symbol: "BTC", kind: "vibes", observedAt: "2024-01-01T00:00:00Z" });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(["kind"]);
  });

  test("symbols are upper-cased and timeframe defaults to 1d", () => {
    const r = SnapshotSchema.parse({
      symbol: "btc",
      kind: "trading_signal",
      observedAt: "2024-01-01T00:00:00Z",
      value: "bullish",
    });
    expect(r).toMatchObject({ symbol: "BTC", timeframe: "1d" });
  });

  test.each([
    [{ kind: "tm_grade", score: 101, label: "Buy" }, "score"],
    [{ kind: "tm_grade", score: 50 }, "label"],
    [{ kind: "trading_signal", value: "up" }, "value"],
    [{ kind: "trading_signal", value: "bullish", timeframe: "4h" }, "timeframe"],
    [{ kind: "trading_signal", value: "bullish", extra: 1 }, ""],
  ])("rejects %o at %s", (row, path) => {
    const r = SnapshotSchema.safeParse({ symbol: "BTC", observedAt: "2024-01-01T00:00:00Z", ...row });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path.join(".")).toBe(path);
  });
});
