import { EMA, RSI } from "trading-signals";
import type { PricePoint } from "./prices.ts";
import type { GradeValue, SignalDirection, Snapshot, Timeframe } from "./snapshot.ts";

/**
 * The reference model of `signalpost replay` (docs/detector.md): turns a closing-price series into
 * the snapshots a data provider would publish.
 *
 * - Trend signal (`trading_signal`): fast vs slow EMA of the close. Spread = (fast − slow) / slow;
 *   bullish above +band, bearish below −band, neutral within. Score = spread in percent (2 dp).
 *   Emitted once the slow EMA has `slow` inputs.
 * - Momentum grade (`momentum_grade`): RSI (Wilder) of the close, 0–100 (2 dp), labelled
 *   Strong Sell < 20 ≤ Sell < 40 ≤ Neutral < 60 ≤ Buy < 80 ≤ Strong Buy. Emitted once RSI is stable.
 *
 * The indicators come from `trading-signals` (maintained, typed, no dependencies).
 */
export type ModelOptions = {
  /** Fast EMA period. Default 12. */
  fast: number;
  /** Slow EMA period. Default 26. */
  slow: number;
  /** Neutral band around zero spread, as a fraction of the slow EMA. Default 0.0025 (0.25 %). */
  band: number;
  /** RSI period. Default 14. */
  rsi: number;
  /** Timeframe label of the signal. Default `1d`. */
  timeframe: Timeframe;
};

export const DEFAULT_MODEL: ModelOptions = { fast: 12, slow: 26, band: 0.0025, rsi: 14, timeframe: "1d" };

export const MOMENTUM_LABELS = ["Strong Sell", "Sell", "Neutral", "Buy", "Strong Buy"] as const;

/** The label of a 0–100 momentum score. */
export function momentumLabel(score: number): (typeof MOMENTUM_LABELS)[number] {
  const i = Math.min(4, Math.max(0, Math.floor(score / 20)));
  return MOMENTUM_LABELS[i] ?? "Neutral";
}

export function trendOf(spread: number, band: number): SignalDirection {
  return spread > band ? "bullish" : spread < -band ? "bearish" : "neutral";
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** Snapshots for one symbol's series (must be in time order). */
export function modelSnapshots(
  points: readonly PricePoint[],
  source: string,
  opts: ModelOptions = DEFAULT_MODEL,
): Snapshot[] {
  const fast = new EMA(opts.fast);
  const slow = new EMA(opts.slow);
  const rsi = new RSI(opts.rsi);
  const out: Snapshot[] = [];
  for (const p of points) {
    fast.add(p.close);
    slow.add(p.close);
    rsi.add(p.close);
    if (slow.isStable && fast.isStable) {
      const s = slow.getResultOrThrow();
      const spread = (fast.getResultOrThrow() - s) / s;
      out.push({
        source,
        symbol: p.symbol,
        kind: "trading_signal",
        timeframe: opts.timeframe,
        observedAt: p.date,
        value: { value: trendOf(spread, opts.band), score: round2(spread * 100) },
      });
    }
    if (rsi.isStable) {
      const score = round2(rsi.getResultOrThrow());
      const value: GradeValue = { score, label: momentumLabel(score) };
      out.push({
        source,
        symbol: p.symbol,
        kind: "momentum_grade",
        timeframe: "",
        observedAt: p.date,
        value,
      });
    }
  }
  return out;
}
