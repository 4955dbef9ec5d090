import { z } from "@hono/zod-openapi";
import { plainLine } from "../routes/common.ts";

/**
 * What the detector consumes: one observation of a symbol's trading signal or grade at a time.
 * The same schema validates `PUT /v1/signals` rows, replayed JSON lines and (after mapping) upstream rows.
 */

export const SIGNAL_VALUES = ["bullish", "bearish", "neutral"] as const;
export type SignalDirection = (typeof SIGNAL_VALUES)[number];

export const TIMEFRAMES = ["1d", "1h"] as const;
export type Timeframe = (typeof TIMEFRAMES)[number];

/**
 * Grade kinds the detector knows. `momentum_grade` is what the reference model of `signalpost replay`
 * produces; the others follow the upstream data API. Anything else is rejected at the edge.
 */
export const GRADE_KINDS = [
  "tm_grade",
  "fundamental_grade",
  "trader_grade",
  "investor_grade",
  "quant_grade",
  "momentum_grade",
] as const;
export type GradeKind = (typeof GRADE_KINDS)[number];
export const SIGNAL_KIND = "trading_signal";
export type SnapshotKind = typeof SIGNAL_KIND | GradeKind;

/** A symbol as signals, grades and endpoint filters accept it (BTC, BRK.B, BTC/USD, NASDAQ:AAPL). */
export const SYMBOL_RE = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,31}$/;

export const SymbolSchema = z
  .string()
  .regex(SYMBOL_RE, "a symbol is 1–32 letters, digits or . _ : / - (stored upper-case)")
  .transform((s) => s.toUpperCase())
  .openapi({ example: "BTC" });

export const SourceSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, "a source is 1–64 lower-case letters, digits or _ . -")
  .openapi({ example: "tokenmetrics" });

const observedAt = z.iso
  .datetime({ offset: true })
  .transform((s) => new Date(s))
  .openapi({ description: "When the value was observed (ISO 8601)", example: "2025-04-10T00:00:00Z" });

const score = z.number().finite();

export const SignalSnapshotSchema = z
  .strictObject({
    symbol: SymbolSchema,
    kind: z.literal(SIGNAL_KIND),
    timeframe: z.enum(TIMEFRAMES).default("1d").openapi({ description: "Default `1d`" }),
    observedAt,
    value: z.enum(SIGNAL_VALUES),
    score: score.optional().openapi({ description: "Optional strength of the signal", example: 0.82 }),
  })
  .openapi("SignalSnapshot");

export const GradeSnapshotSchema = z
  .strictObject({
    symbol: SymbolSchema,
    kind: z.enum(GRADE_KINDS),
    observedAt,
    score: score.min(0).max(100).openapi({ example: 72.41 }),
    // Labels and component names are shown to people and stored as text: one line, no controls.
    label: plainLine(z.string().trim().min(1).max(64)).openapi({ example: "Buy" }),
    components: z
      .record(plainLine(z.string().min(1).max(64)), score)
      .refine((c) => Object.keys(c).length <= 32, "at most 32 components")
      .optional()
      .openapi({ example: { quant: 64.3 } }),
  })
  .openapi("GradeSnapshot");

export const SnapshotSchema = z.discriminatedUnion("kind", [SignalSnapshotSchema, GradeSnapshotSchema]);
export type SignalSnapshotInput = z.input<typeof SignalSnapshotSchema>;
export type SnapshotInput = z.input<typeof SnapshotSchema>;

/** The value part of a signal state: direction plus an optional score. */
export type SignalValue = { value: SignalDirection; score?: number };
/** The value part of a grade state. */
export type GradeValue = { score: number; label: string; components?: Record<string, number> };
export type StateValue = SignalValue | GradeValue;

/** A validated, normalised snapshot, ready for the inbox. */
export type Snapshot = {
  source: string;
  symbol: string;
  kind: SnapshotKind;
  /** `1d`/`1h` for trading signals; `` for grades. */
  timeframe: Timeframe | "";
  observedAt: Date;
  value: StateValue;
};

/** Turns a parsed API/replay row into the detector's normalised form. */
export function toSnapshot(source: string, row: z.output<typeof SnapshotSchema>): Snapshot {
  if (row.kind === SIGNAL_KIND) {
    const value: SignalValue = { value: row.value };
    if (row.score !== undefined) value.score = row.score;
    return {
      source,
      symbol: row.symbol,
      kind: row.kind,
      timeframe: row.timeframe,
      observedAt: row.observedAt,
      value,
    };
  }
  const value: GradeValue = { score: row.score, label: row.label };
  if (row.components && Object.keys(row.components).length) value.components = row.components;
  return { source, symbol: row.symbol, kind: row.kind, timeframe: "", observedAt: row.observedAt, value };
}

export function isSignalKind(kind: string): kind is typeof SIGNAL_KIND {
  return kind === SIGNAL_KIND;
}
