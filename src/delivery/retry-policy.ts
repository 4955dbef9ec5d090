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

/**
 * `Retry-After` as delta-seconds or an HTTP-date, in ms from `now`. Garbage, negative or absent
 * values give null (ignored).
 */
export function parseRetryAfter(value: string | undefined | null, now: Date): number | null {
  if (!value) return null;
  const v = value.trim();
  if (/^\d{1,10}$/.test(v)) return Number(v) * 1000;
  // HTTP-date (IMF-fixdate and the obsolete forms Date.parse understands); require a weekday/month name
  if (!/[A-Za-z]{3}/.test(v)) return null;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now.getTime());
}
