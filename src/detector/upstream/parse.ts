import { z } from "zod";
import type { GradeValue, SignalDirection, Snapshot } from "../snapshot.ts";

/**
 * Token Metrics v2 response shapes. Field names are matched case-insensitively (the v2 API sends
 * `TOKEN_SYMBOL`, a newer one `token_symbol`) by lower-casing keys before validation; numbers may
 * arrive as strings (`"72.41"`). Unknown fields are ignored: the provider adds fields over time.
 */

/** A number, or a string holding one (`"72.41"`, `" -1 "`). */
const num = z.union([
  z.number().finite(),
  z
    .string()
    .trim()
    .regex(/^[-+]?\d+(\.\d+)?([eE][-+]?\d+)?$/, "not a number")
    .transform(Number),
]);
const symbol = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,31}$/, "not a symbol")
  .transform((s) => s.toUpperCase());
const date = z
  .union([z.string().min(1), z.number()])
  .transform((v) => new Date(v))
  .refine((d) => !Number.isNaN(d.getTime()), "not a date");
const gradeScore = num.pipe(z.number().min(0).max(100));
const label = z.string().trim().min(1).max(64);

export const EnvelopeSchema = z.object({
  success: z.boolean(),
  message: z.string().optional(),
  length: num.optional(),
  data: z.array(z.record(z.string(), z.unknown())),
});

const TradingSignalRow = z.object({
  token_symbol: symbol,
  date,
  trading_signal: num.pipe(z.union([z.literal(1), z.literal(-1), z.literal(0)])),
  token_trend: num.pipe(z.union([z.literal(1), z.literal(-1), z.literal(0)])).nullish(),
});

const TmGradeRow = z.object({
  token_symbol: symbol,
  tm_grade: gradeScore,
  tm_grade_signal: label,
  date: date.optional(),
  quant_grade: num.nullish(),
  tm_trader_grade: num.nullish(),
});

const FundamentalGradeRow = z.object({
  token_symbol: symbol,
  fundamental_grade: gradeScore,
  fundamental_grade_class: label,
  date: date.optional(),
  community_score: num.nullish(),
  exchange_score: num.nullish(),
  vc_score: num.nullish(),
  tokenomics_score: num.nullish(),
  defi_scanner_score: num.nullish(),
});

/** A response that must change nothing, with the reason to log. */
export class MalformedResponse extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "MalformedResponse";
  }
}

/** Lower-cases the keys of an object (one level). */
function lowerKeys(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k.toLowerCase(), v]));
}

/** Parses a response body into its data rows; throws MalformedResponse with the reason. */
export function parseEnvelope(text: string): Record<string, unknown>[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new MalformedResponse(`body is not JSON: ${(err as Error).message}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json))
    throw new MalformedResponse("body is not a JSON object");
  const parsed = EnvelopeSchema.safeParse(lowerKeys(json as Record<string, unknown>));
  if (!parsed.success) throw new MalformedResponse(`envelope: ${describe(parsed.error)}`);
  if (!parsed.data.success)
    throw new MalformedResponse(`upstream reported success: false (${parsed.data.message ?? "no message"})`);
  return parsed.data.data.map(lowerKeys);
}

export type UpstreamResource = "trading-signals" | "tm-grade" | "fundamental-grade";

/**
 * Maps validated rows to snapshots. `TRADING_SIGNAL` 0 means "no new signal" (the provider's
 * docs), so the standing trend `TOKEN_TREND` is used when present; 0 with no trend is neutral.
 * Grade rows carry no date in v2, so they are observed at `polledAt`.
 */
export function toSnapshots(
  resource: UpstreamResource,
  rows: readonly Record<string, unknown>[],
  source: string,
  polledAt: Date,
): Snapshot[] {
  const map = ROW_MAPPERS[resource];
  return rows.map((row, i) => {
    try {
      return map(row, source, polledAt);
    } catch (err) {
      if (err instanceof z.ZodError) throw new MalformedResponse(`data.${i}: ${describe(err)}`);
      throw err;
    }
  });
}

type RowMapper = (row: Record<string, unknown>, source: string, polledAt: Date) => Snapshot;

const ROW_MAPPERS: Record<UpstreamResource, RowMapper> = {
  "trading-signals": (row, source) => {
    const r = TradingSignalRow.parse(row);
    const n = r.trading_signal !== 0 ? r.trading_signal : (r.token_trend ?? 0);
    return {
      source,
      symbol: r.token_symbol,
      kind: "trading_signal",
      timeframe: "1d",
      observedAt: r.date,
      value: { value: direction(n) },
    };
  },
  "tm-grade": (row, source, polledAt) => {
    const r = TmGradeRow.parse(row);
    const value: GradeValue = { score: r.tm_grade, label: r.tm_grade_signal };
    const components = compact({ quant: r.quant_grade, trader: r.tm_trader_grade });
    if (components) value.components = components;
    return {
      source,
      symbol: r.token_symbol,
      kind: "tm_grade",
      timeframe: "",
      observedAt: r.date ?? polledAt,
      value,
    };
  },
  "fundamental-grade": (row, source, polledAt) => {
    const r = FundamentalGradeRow.parse(row);
    const value: GradeValue = { score: r.fundamental_grade, label: r.fundamental_grade_class };
    const components = compact({
      community: r.community_score,
      exchange: r.exchange_score,
      vc: r.vc_score,
      tokenomics: r.tokenomics_score,
      defiScanner: r.defi_scanner_score,
    });
    if (components) value.components = components;
    return {
      source,
      symbol: r.token_symbol,
      kind: "fundamental_grade",
      timeframe: "",
      observedAt: r.date ?? polledAt,
      value,
    };
  },
};

function direction(n: number): SignalDirection {
  return n > 0 ? "bullish" : n < 0 ? "bearish" : "neutral";
}

function compact(o: Record<string, number | null | undefined>): Record<string, number> | undefined {
  const entries = Object.entries(o).filter((e): e is [string, number] => typeof e[1] === "number");
  return entries.length ? Object.fromEntries(entries) : undefined;
}

function describe(err: z.ZodError): string {
  return err.issues
    .slice(0, 3)
    .map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`)
    .join("; ");
}
