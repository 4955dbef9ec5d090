import { and, asc, count, eq, gt, gte, inArray, sql } from "drizzle-orm";
import { deliveries, endpointRecoveries } from "../../../db/schema/index.ts";
import type { Deps } from "../../deps.ts";
import type { RecoverJob } from "../../jobs/queues.ts";
import { idAtTime } from "../../lib/ids.ts";
import { restartDeliveries } from "../deliveries/restart.ts";

/** Deliveries re-sent per transaction (and per progress update). */
export const RECOVER_BATCH = 500;

const RECOVERABLE = ["dead", "cancelled"] as const;

/**
 * Runs a recovery: walks the endpoint's dead or cancelled deliveries created since `since` in id
 * order, restarting each batch (a fresh retry cycle, trigger "manual") in its own transaction and
 * recording progress after each. A retried run continues where it stopped: restarted deliveries
 * are pending and no longer match.
 */
export async function runRecovery(deps: Deps, job: RecoverJob): Promise<{ redriven: number }> {
  const { db } = deps;
  const since = new Date(job.since);
  const matching = and(
    eq(deliveries.endpointId, job.endpointId),
    inArray(deliveries.status, [...RECOVERABLE]),
    gte(deliveries.id, idAtTime("dlv", since)),
  );
  const [{ n } = { n: 0 }] = await db.select({ n: count() }).from(deliveries).where(matching);
  const [run] = await db
    .update(endpointRecoveries)
    .set({
      status: "running",
      startedAt: sql`coalesce(${endpointRecoveries.startedAt}, now())`,
      total: sql`${endpointRecoveries.redriven} + ${n}`,
      error: null,
    })
    .where(eq(endpointRecoveries.id, job.recoveryId))
    .returning();
  if (!run) return { redriven: 0 };
  let redriven = 0;
  let after = "";
  try {
    for (;;) {
      const done = await db.transaction(async (tx) => {
        const batch = await tx
          .select({ id: deliveries.id })
          .from(deliveries)
          .where(and(matching, gt(deliveries.id, after)))
          .orderBy(asc(deliveries.id))
          .limit(RECOVER_BATCH)
          .for("update", { skipLocked: true });
        const last = batch.at(-1);
        if (!last) return null;
        after = last.id;
        const restarted = await restartDeliveries(
          deps,
          tx,
          batch.map((b) => b.id),
        );
        await tx
          .update(endpointRecoveries)
          .set({ redriven: sql`${endpointRecoveries.redriven} + ${restarted.length}` })
          .where(eq(endpointRecoveries.id, job.recoveryId));
        return { restarted: restarted.length, full: batch.length === RECOVER_BATCH };
      });
      if (!done) break;
      redriven += done.restarted;
      if (!done.full) break;
    }
  } catch (err) {
    await db
      .update(endpointRecoveries)
      .set({ status: "failed", error: "the run failed; it is retried automatically" })
      .where(eq(endpointRecoveries.id, job.recoveryId))
      .catch(() => {});
    throw err;
  }
  await db
    .update(endpointRecoveries)
    .set({ status: "completed", finishedAt: sql`now()` })
    .where(eq(endpointRecoveries.id, job.recoveryId));
  deps.logger.info(
    { recoveryId: job.recoveryId, endpointId: job.endpointId, redriven },
    "endpoint recovery done",
  );
  return { redriven };
}
