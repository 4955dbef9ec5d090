/**
 * When the next attempt happens. `attemptsInCycle` counts the attempts already made in the current
 * cycle (1 after the first try). A schedule of N delays allows N + 1 attempts; after that, null
 * (dead-letter).
 */
export function nextAttemptDelay(opts: {
  schedule: readonly number[];
  attemptsInCycle: number;
  jitter: number;
  /** Parsed Retry-After in ms, if the receiver sent a usable one. */
  retryAfterMs?: number | null;
  retryAfterMaxMs: number;
  random?: () => number;
}): number | null {
  const base = opts.schedule[opts.attemptsInCycle - 1];
  if (base === undefined) return null;
  const rnd = opts.random ?? Math.random;
  const jittered = Math.max(0, Math.round(base * (1 + opts.jitter * (2 * rnd() - 1))));
  if (opts.retryAfterMs == null) return jittered;
  // Retry-After can push a retry later than the schedule, never earlier, and never past the cap.
  return Math.max(jittered, Math.min(opts.retryAfterMs, opts.retryAfterMaxMs));
}

/** Delta-seconds beyond this (about 31 years) are read as this; the caller clamps further. */
const MAX_RETRY_AFTER_SECONDS = 1e9;

// The three HTTP-date forms of RFC 9110 §5.6.7. Anything else is ignored: V8's Date.parse is
// lenient enough to read "Retry 5" or "abc 2099" as a date, which must not delay a retry.
const DAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)";
const LONG_DAY = "(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)";
const MONTH = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)";
const TIME = "\\d{2}:\\d{2}:\\d{2}";
const GMT_DATE = new RegExp(
  [
    `^${DAY}, \\d{2} ${MONTH} \\d{4} ${TIME} GMT$`, // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
    `^${LONG_DAY}, \\d{2}-${MONTH}-\\d{2} ${TIME} GMT$`, // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
  ].join("|"),
);
// asctime carries no zone but means GMT; Date.parse alone would read it as local time.
const ASCTIME_DATE = new RegExp(`^${DAY} ${MONTH} [ \\d]\\d ${TIME} \\d{4}$`); // Sun Nov  6 08:49:37 1994

/**
 * `Retry-After` as delta-seconds or an HTTP-date (RFC 9110 §10.2.3), in ms from `now`. Garbage,
 * negative or absent values give null (ignored); a date in the past gives 0. Huge delta-seconds are
 * kept (capped at 1e9 s) so the caller's clamp applies rather than the value being dropped.
 */
export function parseRetryAfter(value: string | undefined | null, now: Date): number | null {
  if (!value) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Math.min(Number(v), MAX_RETRY_AFTER_SECONDS) * 1000;
  const text = GMT_DATE.test(v) ? v : ASCTIME_DATE.test(v) ? `${v} GMT` : null;
  if (text === null) return null;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now.getTime());
}
