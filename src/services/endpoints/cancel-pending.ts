import { and, eq, sql } from "drizzle-orm";
import type { DbOrTx } from "../../../db/client.ts";
import { deliveries, endpoints } from "../../../db/schema/index.ts";

/**
 * Cancels every pending delivery of an endpoint. Their queued jobs find the delivery no longer
 * pending and do nothing, so no further request is made. Returns how many were cancelled.
 */
export async function cancelPendingDeliveries(
  tx: DbOrTx,
  endpointId: string,
  reason: string,
): Promise<number> {
  const rows = await tx
    .update(deliveries)
    .set({
      status: "cancelled",
      lastError: reason,
      nextAttemptAt: null,
      completedAt: sql`now()`,
      updatedAt: sql`now()`,
      generation: sql`${deliveries.generation} + 1`,
    })
    .where(and(eq(deliveries.endpointId, endpointId), eq(deliveries.status, "pending")))
    .returning({ id: deliveries.id });
  return rows.length;
}

/** Disables an endpoint (with a reason) and cancels its pending deliveries, in the caller's transaction. */
export async function disableEndpoint(
  tx: DbOrTx,
  endpointId: string,
  reason: string,
): Promise<{ cancelled: number }> {
  await tx
    .update(endpoints)
    .set({ disabled: true, disabledReason: reason, updatedAt: sql`now()` })
    .where(eq(endpoints.id, endpointId));
  return { cancelled: await cancelPendingDeliveries(tx, endpointId, reason) };
}
