import { and, eq, sql } from "drizzle-orm";
import { deliveries, type Endpoint } from "../../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { enqueueDeliveries } from "../jobs/enqueue.ts";
import type { DeliverJob } from "../jobs/queues.ts";

export type Admission =
  | { kind: "go"; probe: boolean }
  | { kind: "postpone"; until: Date; reason: "circuit_open" | "rate_limited" };

/**
 * Decides, across every worker process, whether a delivery may be attempted now:
 *
 * - circuit breaker: while an endpoint's circuit is open its deliveries wait until the probe time;
 *   then exactly one attempt (the probe) claims the half-open slot for one lease, and its outcome
 *   closes or reopens the circuit (see recordEndpointOutcome). A manual attempt (retry now,
 *   redrive, recover) may probe at once instead of waiting for the probe time.
 * - rate limit: `rateLimitPerSecond` is enforced with a shared one-second fixed window per
 *   endpoint in Postgres. An attempt over the limit is postponed to the window its position in
 *   line falls in, never dropped.
 *
 * State lives in `endpoint_health`, times come from the database clock.
 */
export async function admitAttempt(
  deps: Deps,
  endpoint: Pick<Endpoint, "id" | "rateLimitPerSecond">,
  trigger: DeliverJob["trigger"],
  /**
   * The circuit state loaded with the delivery a moment ago ("closed" also when there is no health
   * row): "closed" skips looking it up again; anything else (or omitted) reads the current row.
   */
  loadedCircuitState?: string,
): Promise<Admission> {
  const { sql: q, config } = deps;
  let probe = false;
  // Times as epoch ms: this pool's driver hands timestamps back as strings.
  const [health] =
    loadedCircuitState === "closed"
      ? []
      : await q<{ state: string; probe_ms: number | null }[]>`
    select circuit_state as state, (extract(epoch from probe_at) * 1000)::float8 as probe_ms
    from endpoint_health where endpoint_id = ${endpoint.id}`;
  if (health && health.state !== "closed") {
    const leaseSeconds = config.DELIVERY_LEASE / 1000;
    const claimed = await q`
      update endpoint_health
      set circuit_state = 'half_open', probe_at = now() + make_interval(secs => ${leaseSeconds})
      where endpoint_id = ${endpoint.id}
        and (
          (circuit_state in ('open', 'half_open') and probe_at <= now())
          or (${trigger === "manual"} and circuit_state = 'open')
        )
      returning 1`;
    if (claimed.length === 0) {
      const [latest] = await q<{ state: string; probe_ms: number | null }[]>`
        select circuit_state as state, (extract(epoch from probe_at) * 1000)::float8 as probe_ms
        from endpoint_health where endpoint_id = ${endpoint.id}`;
      const now = Date.now();
      const at = latest?.probe_ms ?? health.probe_ms ?? now;
      let until: number;
      if (latest?.state === "half_open") {
        // A probe is in flight: look again once it has had time to answer (at most the request timeout).
        const wait = Math.max(100, Math.min(at - now, config.DELIVERY_TIMEOUT));
        until = now + wait * (0.5 + Math.random() / 2);
      } else {
        // Open: come back just after the probe time, spread a little so the probe goes first.
        const spread = Math.min(config.CIRCUIT_OPEN_DURATION / 2, 5_000);
        until = Math.max(at, now) + 250 + Math.random() * spread;
      }
      return { kind: "postpone", until: new Date(until), reason: "circuit_open" };
    }
    probe = true;
  }

  const limit = endpoint.rateLimitPerSecond;
  if (limit && limit > 0) {
    const [w] = await q<{ count: number; window_ms: number }[]>`
      insert into endpoint_health as h (endpoint_id, window_start, window_count)
      values (${endpoint.id}, date_trunc('second', now()), 1)
      on conflict (endpoint_id) do update set
        window_count = case when h.window_start = excluded.window_start then h.window_count + 1 else 1 end,
        window_start = excluded.window_start
      returning window_count as count, (extract(epoch from window_start) * 1000)::float8 as window_ms`;
    if (w && w.count > limit) {
      const windowsAhead = Math.ceil((w.count - limit) / limit);
      return {
        kind: "postpone",
        until: new Date(w.window_ms + windowsAhead * 1000 + Math.floor(Math.random() * 900)),
        reason: "rate_limited",
      };
    }
  }
  return { kind: "go", probe };
}

/**
 * Reschedules a delivery without attempting it (no attempt row, no step of its retry schedule
 * used): bumps its generation and enqueues a job for `until`, in one transaction. Returns false
 * when the delivery changed meanwhile (another job or a manual retry took over).
 */
export async function postponeDelivery(
  deps: Deps,
  delivery: { id: string; generation: number },
  endpoint: Pick<Endpoint, "id" | "maxConcurrency">,
  job: DeliverJob,
  admission: Extract<Admission, { kind: "postpone" }>,
): Promise<boolean> {
  const moved = await deps.db.transaction(async (tx) => {
    const [row] = await tx
      .update(deliveries)
      .set({
        generation: sql`${deliveries.generation} + 1`,
        nextAttemptAt: admission.until,
        updatedAt: sql`now()`,
      })
      .where(
        and(
          eq(deliveries.id, delivery.id),
          eq(deliveries.status, "pending"),
          eq(deliveries.generation, delivery.generation),
        ),
      )
      .returning({ generation: deliveries.generation });
    if (!row) return false;
    await enqueueDeliveries(deps.boss, tx, [
      {
        deliveryId: delivery.id,
        generation: row.generation,
        trigger: job.trigger,
        endpointId: endpoint.id,
        maxConcurrency: endpoint.maxConcurrency,
        startAfter: admission.until,
      },
    ]);
    return true;
  });
  if (moved) deps.metrics.countPostponed(admission.reason);
  return moved;
}
