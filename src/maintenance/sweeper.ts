import { and, eq, inArray, sql } from "drizzle-orm";
import { BOSS_SCHEMA } from "../../db/migrate.ts";
import { deliveries, endpoints } from "../../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { enqueueDeliveries } from "../jobs/enqueue.ts";
import { QUEUES } from "../jobs/queues.ts";

export type SweepOptions = {
  /** How overdue (ms) a pending delivery must be before it counts as stuck. */
  marginMs: number;
  /** Candidates examined per page. Default 1000. */
  pageSize?: number;
  /** Pages per pass, so one pass stays bounded with a huge healthy backlog. Default 20. */
  maxPages?: number;
};

export type SweepResult = { examined: number; requeued: string[] };

/**
 * Finds pending deliveries whose next attempt is overdue by more than the margin and that have no
 * live job (queued, retrying or running with the delivery's current generation) — a job lost to a
 * crash that outlived its retries, a release that failed, a deleted job — and re-enqueues them
 * with a bumped generation, so any straggler of the old schedule is a no-op.
 *
 * An overdue delivery *with* a live job is just waiting in a backlog and is left alone.
 */
export async function sweepOverdueDeliveries(deps: Deps, opts: SweepOptions): Promise<SweepResult> {
  const pageSize = opts.pageSize ?? 1000;
  const maxPages = opts.maxPages ?? 20;
  const requeued: string[] = [];
  let examined = 0;
  const state: { after: { at: Date; id: string } | null } = { after: null };
  for (let page = 0; page < maxPages; page++) {
    const cursor = state.after;
    const candidates = await deps.db
      .select({
        id: deliveries.id,
        generation: deliveries.generation,
        nextAttemptAt: deliveries.nextAttemptAt,
      })
      .from(deliveries)
      .where(
        and(
          eq(deliveries.status, "pending"),
          sql`${deliveries.nextAttemptAt} < now() - make_interval(secs => ${opts.marginMs / 1000})`,
          cursor
            ? sql`(${deliveries.nextAttemptAt}, ${deliveries.id}) > (${cursor.at.toISOString()}::timestamptz, ${cursor.id})`
            : undefined,
        ),
      )
      .orderBy(deliveries.nextAttemptAt, deliveries.id)
      .limit(pageSize);
    if (candidates.length === 0) break;
    examined += candidates.length;
    const last = candidates.at(-1);
    state.after = last?.nextAttemptAt ? { at: last.nextAttemptAt, id: last.id } : null;

    // One scan of the live delivery jobs per page (job data is not indexed by delivery).
    const live = await deps.sql<{ key: string }[]>`
      select (data->>'deliveryId') || ':' || (data->>'generation') as key
      from ${deps.sql(BOSS_SCHEMA)}.job
      where name = ${QUEUES.deliver}
        and state in ('created', 'retry', 'active')
        and data->>'deliveryId' in ${deps.sql(candidates.map((c) => c.id))}`;
    const liveKeys = new Set(live.map((r) => r.key));
    const stuck = candidates.filter((c) => !liveKeys.has(`${c.id}:${c.generation}`));
    if (stuck.length) requeued.push(...(await requeue(deps, stuck)));
    if (candidates.length < pageSize || !state.after) break;
  }
  if (requeued.length)
    deps.logger.warn(
      { count: requeued.length, deliveryIds: requeued.slice(0, 50) },
      "sweeper re-enqueued stuck deliveries",
    );
  return { examined, requeued };
}

async function requeue(deps: Deps, stuck: { id: string; generation: number }[]): Promise<string[]> {
  return deps.db.transaction(async (tx) => {
    const done: string[] = [];
    const jobs = [];
    for (const s of stuck) {
      // Optimistic on the generation: an attempt that rescheduled meanwhile wins.
      const [row] = await tx
        .update(deliveries)
        .set({
          generation: sql`${deliveries.generation} + 1`,
          nextAttemptAt: sql`now()`,
          updatedAt: sql`now()`,
        })
        .where(
          and(
            eq(deliveries.id, s.id),
            eq(deliveries.status, "pending"),
            eq(deliveries.generation, s.generation),
          ),
        )
        .returning({
          id: deliveries.id,
          generation: deliveries.generation,
          endpointId: deliveries.endpointId,
        });
      if (row) jobs.push(row);
    }
    if (jobs.length === 0) return done;
    const limits = await tx
      .select({ id: endpoints.id, maxConcurrency: endpoints.maxConcurrency })
      .from(endpoints)
      .where(inArray(endpoints.id, [...new Set(jobs.map((j) => j.endpointId))]));
    const byId = new Map(limits.map((l) => [l.id, l.maxConcurrency]));
    await enqueueDeliveries(
      deps.boss,
      tx,
      jobs.map((j) => ({
        deliveryId: j.id,
        generation: j.generation,
        trigger: "scheduled" as const,
        endpointId: j.endpointId,
        maxConcurrency: byId.get(j.endpointId) ?? null,
      })),
    );
    for (const j of jobs) done.push(j.id);
    return done;
  });
}
