const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `250ms`, `5s`, `5m`, `2h`, `5d` (or a bare number of milliseconds) into milliseconds. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!m?.[1]) throw new Error(`not a duration: "${text}" (use e.g. 500ms, 5s, 5m, 2h, 1d)`);
  return Math.round(Number(m[1]) * (UNITS[m[2] ?? "ms"] ?? 1));
}

/** Parses a comma-separated list of durations; an empty string is an empty list. */
export function parseDurationList(text: string): number[] {
  if (text.trim() === "") return [];
  return text.split(",").map(parseDuration);
}
