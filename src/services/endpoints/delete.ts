import { and, eq, isNull, sql } from "drizzle-orm";
import { endpoints } from "../../../db/schema/index.ts";
import { NotFoundError } from "../../errors/index.ts";
import { recordAudit } from "../audit/record.ts";
import type { ServiceCtx } from "../context.ts";
import { cancelPendingDeliveries } from "./cancel-pending.ts";
import { loadEndpoint } from "./load.ts";
import { transactionWithRetry } from "./tx.ts";

/**
 * Soft-deletes an endpoint (its delivery log stays) and cancels its pending deliveries in the
 * same transaction: a job already queued finds its delivery cancelled and sends nothing.
 * Deliveries are locked before the endpoint, the order the delivery engine uses.
 */
export async function deleteEndpoint(ctx: ServiceCtx, id: string): Promise<void> {
  await transactionWithRetry(ctx.deps.db, async (tx) => {
    const current = await loadEndpoint(tx, ctx, id);
    const cancelled = await cancelPendingDeliveries(tx, id, "endpoint deleted");
    const [deleted] = await tx
      .update(endpoints)
      .set({ deletedAt: sql`now()`, updatedAt: sql`now()` })
      .where(and(eq(endpoints.id, id), isNull(endpoints.deletedAt)))
      .returning({ id: endpoints.id });
    if (!deleted) throw new NotFoundError("endpoint", id); // deleted concurrently
    await recordAudit(tx, ctx, {
      action: "endpoint.delete",
      targetType: "endpoint",
      targetId: id,
      tenantId: current.tenantId,
      details: { cancelledDeliveries: cancelled },
    });
  });
}
