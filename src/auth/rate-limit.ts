import type { MiddlewareHandler } from "hono";
import type { Sql } from "../../db/client.ts";
import { ApiError } from "../errors/index.ts";
import type { AppEnv } from "../routes/env.ts";

/** Burst allowed on top of the sustained rate, as a multiple of the per-second limit. */
export const BURST_FACTOR = 2;

export type BucketSpec = { bucket: string; perSecond: number };

export type BucketState = {
  bucket: string;
  allowed: boolean;
  /** Requests the bucket holds when full. */
  limit: number;
  /** Requests that could be made right now. */
  remaining: number;
  /** Seconds until the bucket is full again. */
  resetSeconds: number;
  /** When refused: seconds until one request would be let through. */
  retryAfterSeconds: number;
};

/**
 * GCRA (a token bucket kept as one timestamp) over shared rows in Postgres: each bucket is one
 * row, and one `insert … on conflict do update … returning` checks and consumes all the given
 * buckets atomically per row, so any number of API processes share one budget. `nowMs` comes from
 * the app clock so tests can freeze it.
 */
export async function consumeBuckets(sql: Sql, specs: BucketSpec[], nowMs: number): Promise<BucketState[]> {
  const names = specs.map((s) => s.bucket);
  const intervals = specs.map((s) => 1000 / s.perSecond);
  const bursts = specs.map((s) => Math.max(1, Math.round(s.perSecond * BURST_FACTOR)));
  // A request fits when, after adding one interval, the bucket is no more than `burst` intervals
  // ahead of now. The 1e-6 absorbs float error from summing intervals.
  const rows = await sql<
    { bucket: string; tat: number; interval_ms: number; burst: number; allowed: boolean }[]
  >`
    insert into rate_limit_buckets as b (bucket, tat, interval_ms, burst, allowed, updated_at)
    select u.bucket, ${nowMs}::float8 + u.interval_ms, u.interval_ms, u.burst, true, now()
    from unnest(${names}::text[], ${intervals}::float8[], ${bursts}::int[]) as u(bucket, interval_ms, burst)
    on conflict (bucket) do update set
      allowed = greatest(b.tat, ${nowMs}::float8) + excluded.interval_ms - ${nowMs}::float8
                <= excluded.burst * excluded.interval_ms + 1e-6,
      tat = case
        when greatest(b.tat, ${nowMs}::float8) + excluded.interval_ms - ${nowMs}::float8
             <= excluded.burst * excluded.interval_ms + 1e-6
        then greatest(b.tat, ${nowMs}::float8) + excluded.interval_ms
        else b.tat end,
      interval_ms = excluded.interval_ms,
      burst = excluded.burst,
      updated_at = now()
    returning bucket, tat, interval_ms, burst, allowed`;
  return rows.map((r) => {
    const ahead = Math.max(0, r.tat - nowMs); // ms the bucket is "in debt"
    const capacity = r.burst * r.interval_ms;
    return {
      bucket: r.bucket,
      allowed: r.allowed,
      limit: r.burst,
      remaining: Math.max(0, Math.floor((capacity - ahead + 1e-6) / r.interval_ms)),
      resetSeconds: Math.ceil(ahead / 1000),
      retryAfterSeconds: Math.max(1, Math.ceil((ahead + r.interval_ms - capacity) / 1000)),
    };
  });
}

/** The `RateLimit-*` headers describing the tightest of the buckets. */
export function rateLimitHeaders(states: BucketState[]): Record<string, string> {
  const tightest = states.reduce((a, b) => (b.remaining < a.remaining ? b : a));
  return {
    "ratelimit-limit": String(tightest.limit),
    "ratelimit-remaining": String(tightest.remaining),
    "ratelimit-reset": String(tightest.resetSeconds),
  };
}

/**
 * Per-key (`RATE_LIMIT_PER_SECOND`) and per-tenant (`RATE_LIMIT_TENANT_PER_SECOND`) limits, after
 * `authenticate`. An access token shares its key's bucket. Refused requests get 429 problem+json
 * with `Retry-After`; every response carries `RateLimit-Limit/Remaining/Reset`.
 */
export function rateLimit(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const deps = c.get("deps");
    const p = c.get("principal");
    const specs: BucketSpec[] = [{ bucket: `key:${p.keyId}`, perSecond: deps.config.RATE_LIMIT_PER_SECOND }];
    if (p.tenantId)
      specs.push({ bucket: `tenant:${p.tenantId}`, perSecond: deps.config.RATE_LIMIT_TENANT_PER_SECOND });
    const states = await consumeBuckets(deps.sql, specs, deps.now().getTime());
    const headers = rateLimitHeaders(states);
    const refused = states.filter((s) => !s.allowed);
    if (refused.length) {
      const retry = Math.max(...refused.map((s) => s.retryAfterSeconds));
      const which = refused.some((s) => s.bucket.startsWith("tenant:")) ? "this tenant" : "this key";
      throw new ApiError("rate_limited", `too many requests for ${which}; retry in ${retry} s`, {
        headers: { ...headers, "ratelimit-remaining": "0", "retry-after": String(retry) },
      });
    }
    await next();
    for (const [k, v] of Object.entries(headers)) c.res.headers.set(k, v);
  };
}
