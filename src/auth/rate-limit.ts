import type { MiddlewareHandler } from "hono";
import type { Sql } from "../../db/client.ts";
import { ApiError } from "../errors/index.ts";
import type { AppEnv } from "../routes/env.ts";

/** Burst allowed on top of the sustained rate, as a multiple of the per-second limit. */
export const BURST_FACTOR = 2;

export type BucketSpec = {
  bucket: string;
  perSecond: number;
  /** Units to take at once if they fit (default 1); fewer are taken when fewer fit. */
  want?: number;
};

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
  /** Units taken (0 when refused; up to `want`). */
  granted: number;
};

/**
 * GCRA (a token bucket kept as one timestamp) over shared rows in Postgres: each bucket is one
 * row, and one `insert … on conflict do update … returning` checks and consumes all the given
 * buckets atomically per row, so any number of API processes share one budget. `want` takes up
 * to that many units at once (as many as fit, at least one or none). `nowMs` comes from the app
 * clock so tests can freeze it.
 */
export async function consumeBuckets(sql: Sql, specs: BucketSpec[], nowMs: number): Promise<BucketState[]> {
  const names = specs.map((s) => s.bucket);
  const intervals = specs.map((s) => 1000 / s.perSecond);
  const bursts = specs.map((s) => Math.max(1, Math.round(s.perSecond * BURST_FACTOR)));
  const wants = specs.map((s, i) => Math.max(1, Math.min(Math.floor(s.want ?? 1), bursts[i] ?? 1)));
  // Units that fit: how far the bucket may still run ahead of now (burst intervals at most),
  // in whole intervals. The 1e-6 absorbs float error from summing intervals.
  const fits = sql`floor((excluded.burst * excluded.interval_ms - (greatest(b.tat, ${nowMs}::float8) - ${nowMs}::float8) + 1e-6) / excluded.interval_ms)`;
  // `excluded.granted` is what the request wants (the row it would insert takes that many).
  const take = sql`greatest(0, least(excluded.granted, ${fits}))`;
  const rows = await sql<
    { bucket: string; tat: number; interval_ms: number; burst: number; allowed: boolean; granted: number }[]
  >`
    insert into rate_limit_buckets as b (bucket, tat, interval_ms, burst, allowed, granted, updated_at)
    select u.bucket, ${nowMs}::float8 + u.interval_ms * u.want, u.interval_ms, u.burst, true, u.want, now()
    from unnest(${names}::text[], ${intervals}::float8[], ${bursts}::int[], ${wants}::int[])
      as u(bucket, interval_ms, burst, want)
    on conflict (bucket) do update set
      allowed = ${take} >= 1,
      granted = ${take},
      tat = case when ${take} >= 1
        then greatest(b.tat, ${nowMs}::float8) + ${take} * excluded.interval_ms
        else b.tat end,
      interval_ms = excluded.interval_ms,
      burst = excluded.burst,
      updated_at = now()
    returning bucket, tat, interval_ms, burst, allowed, granted`;
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
      granted: r.granted,
    };
  });
}

/**
 * Units a process takes from a shared bucket at once: 20 ms of its rate, so at 100 requests/s
 * and more a process asks Postgres for every few requests instead of every one. Below that, 1
 * (every request asks, exactly as without leasing).
 */
export function leaseSize(perSecond: number): number {
  return Math.max(1, Math.floor(perSecond / 50));
}

/** Units a process took but has not spent are dropped after this long. */
export const LEASE_MS = 1000;

type Lease = { tokens: number; expiresAt: number; state: BucketState };

/**
 * Per-process spending of units taken from the shared buckets in advance (leaseSize). The shared
 * budget is never exceeded: every unit spent here was taken from its row first. What changes at
 * high rates: a process may hold up to leaseSize − 1 units for up to LEASE_MS that another process
 * cannot use meanwhile (unspent ones are lost), and `RateLimit-Remaining` counts this process's
 * units, not other processes'. One refill per bucket runs at a time; requests that find it running
 * wait for it instead of asking for units of their own.
 */
export class BucketLeases {
  readonly #leases = new Map<string, Lease>();
  readonly #refilling = new Map<string, Promise<unknown>>();

  async consume(sql: Sql, specs: readonly BucketSpec[], nowMs: number): Promise<BucketState[]> {
    const out: (BucketState | undefined)[] = specs.map(() => undefined);
    for (let round = 0; ; round++) {
      const ask: number[] = [];
      const waits: Promise<unknown>[] = [];
      specs.forEach((spec, i) => {
        if (out[i]) return;
        const lease = this.#leases.get(spec.bucket);
        if (lease && lease.tokens > 0 && lease.expiresAt > nowMs) {
          lease.tokens--;
          out[i] = { ...lease.state, allowed: true, remaining: lease.state.remaining + lease.tokens };
          return;
        }
        const refill = this.#refilling.get(spec.bucket);
        // Waiting is bounded: after a few refills taken by others, ask directly.
        if (refill && round < 3) waits.push(refill);
        else ask.push(i);
      });
      if (ask.length === 0 && waits.length === 0) return out as BucketState[];
      if (ask.length === 0) {
        await Promise.allSettled(waits);
        continue;
      }
      const asked = ask.map((i) => specs[i] as BucketSpec);
      const refill = consumeBuckets(
        sql,
        asked.map((s) => ({ ...s, want: leaseSize(s.perSecond) })),
        nowMs,
      ).then((states) => {
        states.forEach((state, j) => {
          const i = ask[j] as number;
          const spec = asked[j] as BucketSpec;
          // This request spends one unit; the rest are kept for this process's next requests.
          const kept = Math.max(0, state.granted - 1);
          if (kept > 0) this.#leases.set(spec.bucket, { tokens: kept, expiresAt: nowMs + LEASE_MS, state });
          else this.#leases.delete(spec.bucket);
          out[i] = { ...state, remaining: state.remaining + kept };
        });
      });
      for (const s of asked) {
        if (leaseSize(s.perSecond) === 1) continue;
        const mark = refill.finally(() => {
          if (this.#refilling.get(s.bucket) === mark) this.#refilling.delete(s.bucket);
        });
        mark.catch(() => {});
        this.#refilling.set(s.bucket, mark);
      }
      await refill;
    }
  }
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
  const leases = new BucketLeases();
  return async (c, next) => {
    const deps = c.get("deps");
    const p = c.get("principal");
    const specs: BucketSpec[] = [{ bucket: `key:${p.keyId}`, perSecond: deps.config.RATE_LIMIT_PER_SECOND }];
    if (p.tenantId)
      specs.push({ bucket: `tenant:${p.tenantId}`, perSecond: deps.config.RATE_LIMIT_TENANT_PER_SECOND });
    const states = await leases.consume(deps.sql, specs, deps.now().getTime());
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
