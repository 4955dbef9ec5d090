import { sql } from "drizzle-orm";
import type { ServiceCtx } from "../context.ts";
import { loadEndpoint } from "./load.ts";

export type EndpointStats = {
  endpointId: string;
  since: string;
  until: string;
  deliveries: { pending: number; succeeded: number; dead: number; cancelled: number };
  attempts: { total: number; succeeded: number; failed: number; blocked: number };
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
};

/** Default stats window: the last 24 hours. */
const DEFAULT_WINDOW_MS = 24 * 3_600_000;

/**
 * Delivery counts by status (deliveries created in the window), attempt counts by outcome and
 * attempt latency percentiles (attempts started in the window), computed in SQL.
 */
export async function endpointStats(ctx: ServiceCtx, id: string, input: { since?: string | undefined }) {
  const { db } = ctx.deps;
  const endpoint = await loadEndpoint(db, ctx, id);
  const until = ctx.deps.now();
  const since = input.since ? new Date(input.since) : new Date(until.getTime() - DEFAULT_WINDOW_MS);
  const [d] = await db.execute<{ pending: number; succeeded: number; dead: number; cancelled: number }>(sql`
    select
      count(*) filter (where status = 'pending')::int as pending,
      count(*) filter (where status = 'succeeded')::int as succeeded,
      count(*) filter (where status = 'dead')::int as dead,
      count(*) filter (where status = 'cancelled')::int as cancelled
    from deliveries
    where endpoint_id = ${endpoint.id} and created_at >= ${since.toISOString()}::timestamptz`);
  const [a] = await db.execute<{
    total: number;
    succeeded: number;
    failed: number;
    blocked: number;
    p50: number | null;
    p95: number | null;
    p99: number | null;
  }>(sql`
    select
      count(*)::int as total,
      count(*) filter (where outcome = 'succeeded')::int as succeeded,
      count(*) filter (where outcome = 'failed')::int as failed,
      count(*) filter (where outcome = 'blocked')::int as blocked,
      percentile_cont(0.5) within group (order by duration_ms) as p50,
      percentile_cont(0.95) within group (order by duration_ms) as p95,
      percentile_cont(0.99) within group (order by duration_ms) as p99
    from attempts
    where endpoint_id = ${endpoint.id} and started_at >= ${since.toISOString()}::timestamptz`);
  const num = (v: number | string | null | undefined) => (v === null || v === undefined ? null : Number(v));
  const stats: EndpointStats = {
    endpointId: endpoint.id,
    since: since.toISOString(),
    until: until.toISOString(),
    deliveries: {
      pending: d?.pending ?? 0,
      succeeded: d?.succeeded ?? 0,
      dead: d?.dead ?? 0,
      cancelled: d?.cancelled ?? 0,
    },
    attempts: {
      total: a?.total ?? 0,
      succeeded: a?.succeeded ?? 0,
      failed: a?.failed ?? 0,
      blocked: a?.blocked ?? 0,
    },
    latencyMs: { p50: num(a?.p50), p95: num(a?.p95), p99: num(a?.p99) },
  };
  return stats;
}
