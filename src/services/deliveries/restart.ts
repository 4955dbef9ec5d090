import { and, eq, inArray, isNull, sql } from "drizzle-orm";
import type { Tx } from "../../../db/client.ts";
import { type DeliveryStatus, deliveries, endpoints } from "../../../db/schema/index.ts";
import type { Deps } from "../../deps.ts";
import { enqueueManualAttempts } from "./manual-attempt.ts";

/**
 * Starts a fresh retry cycle now for the given deliveries, in the caller's transaction: pending,
 * `cycleStart` = attempts so far (so the full schedule applies again and exhaustion dead-letters
 * again), a new generation (older queued jobs become no-ops), and a job with trigger "manual" under
 * its well-known id (manualAttemptJobId), so a retry arriving before that attempt is made can
 * merge into it (see retryDelivery). Deliveries of deleted or disabled endpoints are left alone.
 * Returns the deliveries restarted.
 */
export async function restartDeliveries(
  deps: Deps,
  tx: Tx,
  ids: readonly string[],
  opts: { onlyStatus?: DeliveryStatus } = {},
): Promise<{ id: string; tenantId: string }[]> {
  if (ids.length === 0) return [];
  const now = deps.now();
  const restarted = await tx
    .update(deliveries)
    .set({
      status: "pending",
      cycleStart: sql`${deliveries.attemptCount}`,
      generation: sql`${deliveries.generation} + 1`,
      nextAttemptAt: now,
      completedAt: null,
      updatedAt: now,
    })
    .from(endpoints)
    .where(
      and(
        inArray(deliveries.id, [...ids]),
        eq(endpoints.id, deliveries.endpointId),
        isNull(endpoints.deletedAt),
        eq(endpoints.disabled, false),
        opts.onlyStatus ? eq(deliveries.status, opts.onlyStatus) : undefined,
      ),
    )
    .returning({
      id: deliveries.id,
      generation: deliveries.generation,
      endpointId: deliveries.endpointId,
      tenantId: deliveries.tenantId,
      maxConcurrency: endpoints.maxConcurrency,
    });
  await enqueueManualAttempts(
    deps.boss,
    tx,
    restarted.map((d) => ({
      deliveryId: d.id,
      generation: d.generation,
      endpointId: d.endpointId,
      maxConcurrency: d.maxConcurrency,
    })),
  );
  return restarted.map((d) => ({ id: d.id, tenantId: d.tenantId }));
}
