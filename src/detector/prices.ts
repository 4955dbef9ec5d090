/**
 * Price CSV input for `signalpost replay`: either `symbol,date,close` (`price` accepted for
 * `close`, as in vega-datasets' stocks.csv) or a one-symbol OHLC file `date,open,high,low,close,…`
 * with the symbol given separately. Dates are calendar dates in UTC: `2000-01-03`, full ISO
 * timestamps, or `Jan 1 2000`.
 */

export type PricePoint = { symbol: string; date: Date; close: number };

export class PriceFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PriceFileError";
  }
}

const MONTHS: Record<string, number> = {
  jan: 0,
  feb: 1,
  mar: 2,
  apr: 3,
  may: 4,
  jun: 5,
  jul: 6,
  aug: 7,
  sep: 8,
  oct: 9,
  nov: 10,
  dec: 11,
};

/** Parses a date cell as UTC; null when unreadable. Local-time parsing is never used. */
export function parsePriceDate(cell: string): Date | null {
  const s = cell.trim();
  const iso = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (iso) return utc(Number(iso[1]), Number(iso[2]) - 1, Number(iso[3]));
  if (/^\d{4}-\d{2}-\d{2}T/.test(s)) {
    const withZone = /(Z|[+-]\d{2}:?\d{2})$/.test(s) ? s : `${s}Z`;
    const d = new Date(withZone);
    return Number.isNaN(d.getTime()) ? null : d;
  }
  const mdy = /^([A-Za-z]{3})[a-z]*\.? (\d{1,2}),? (\d{4})$/.exec(s);
  if (mdy) {
    const m = MONTHS[(mdy[1] ?? "").toLowerCase()];
    return m === undefined ? null : utc(Number(mdy[3]), m, Number(mdy[2]));
  }
  return null;
}

function utc(y: number, m: number, d: number): Date | null {
  const date = new Date(Date.UTC(y, m, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m && date.getUTCDate() === d ? date : null;
}

function cells(line: string): string[] {
  return line.split(",").map((c) => c.trim().replace(/^"(.*)"$/, "$1"));
}

/**
 * Parses a whole price CSV. Throws PriceFileError naming the line for the first bad row: a replay
 * applies all of a file or none of it.
 */
export function parsePriceCsv(text: string, opts: { symbol?: string } = {}): PricePoint[] {
  const lines = text.split(/\r?\n/);
  const header = cells(lines[0] ?? "").map((h) => h.toLowerCase());
  const col = (...names: string[]) => names.map((n) => header.indexOf(n)).find((i) => i >= 0) ?? -1;
  const dateCol = col("date", "timestamp", "time");
  const closeCol = col("close", "price", "adj_close", "adjclose");
  const symbolCol = col("symbol", "ticker");
  if (dateCol < 0 || closeCol < 0)
    throw new PriceFileError(
      `line 1: expected a header with date and close (or price), got "${lines[0] ?? ""}"`,
    );
  if (symbolCol < 0 && !opts.symbol) throw new PriceFileError("the file has no symbol column: pass --symbol");
  const fixed = opts.symbol?.toUpperCase();
  const out: PricePoint[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (!line.trim()) continue;
    const c = cells(line);
    const date = parsePriceDate(c[dateCol] ?? "");
    const close = Number(c[closeCol]);
    const symbol = fixed ?? (c[symbolCol] ?? "").toUpperCase();
    if (!date) throw new PriceFileError(`line ${i + 1}: unreadable date "${c[dateCol] ?? ""}"`);
    if (!Number.isFinite(close) || close <= 0 || (c[closeCol] ?? "") === "")
      throw new PriceFileError(`line ${i + 1}: close must be a positive number, got "${c[closeCol] ?? ""}"`);
    if (!/^[A-Z0-9][A-Z0-9._:/-]{0,31}$/.test(symbol))
      throw new PriceFileError(`line ${i + 1}: bad symbol "${symbol}"`);
    out.push({ symbol, date, close });
  }
  return out;
}
