import { and, eq, isNull, sql } from "drizzle-orm";
import { endpoints, tenants } from "../../../db/schema/index.ts";
import { recordAudit } from "../audit/record.ts";
import type { ServiceCtx } from "../context.ts";
import { cancelPendingDeliveries } from "../endpoints/cancel-pending.ts";
import { lockLiveTenant } from "./get.ts";

/**
 * Soft-deletes a tenant: its keys stop authenticating (authenticate.ts checks `deleted_at`), fan-out
 * skips its endpoints, and deliveries already queued for them are cancelled, all in one commit.
 * Its rows stay, so the operator can still read its delivery log and audit trail.
 */
export async function deleteTenant(ctx: ServiceCtx, id: string): Promise<void> {
  await ctx.deps.db.transaction(async (tx) => {
    await lockLiveTenant(tx, id);
    await tx.update(tenants).set({ deletedAt: sql`now()`, updatedAt: sql`now()` }).where(eq(tenants.id, id));
    const live = await tx
      .select({ id: endpoints.id })
      .from(endpoints)
      .where(and(eq(endpoints.tenantId, id), isNull(endpoints.deletedAt)));
    let cancelled = 0;
    for (const ep of live) cancelled += await cancelPendingDeliveries(tx, ep.id, "tenant deleted");
    await recordAudit(tx, ctx, {
      action: "tenant.delete",
      targetType: "tenant",
      targetId: id,
      tenantId: id,
      details: { cancelledDeliveries: cancelled },
    });
  });
}
