import { and, eq, isNull, sql } from "drizzle-orm";
import { endpoints, tenants } from "../../../db/schema/index.ts";
import { recordAudit } from "../audit/record.ts";
import type { ServiceCtx } from "../context.ts";
import { cancelPendingDeliveries } from "../endpoints/cancel-pending.ts";
import { transactionWithRetry } from "../endpoints/tx.ts";
import { lockLiveTenant } from "./get.ts";

/** `disabledReason` of the endpoints of a deleted tenant, and `lastError` of their cancelled deliveries. */
export const TENANT_DELETED = "tenant deleted";

/**
 * Soft-deletes a tenant: its keys stop authenticating (authenticate.ts checks `deleted_at`), its
 * live endpoints are disabled with the reason "tenant deleted" (so they read as what they are:
 * never delivered to again) and their pending deliveries are cancelled, all in one commit. Its rows
 * stay, so the operator can still read its endpoints, delivery log and audit trail. Deliveries are
 * changed before endpoints, the lock order of the delivery engine.
 */
export async function deleteTenant(ctx: ServiceCtx, id: string): Promise<void> {
  await transactionWithRetry(ctx.deps.db, async (tx) => {
    await lockLiveTenant(tx, id);
    await tx.update(tenants).set({ deletedAt: sql`now()`, updatedAt: sql`now()` }).where(eq(tenants.id, id));
    const live = await tx
      .select({ id: endpoints.id })
      .from(endpoints)
      .where(and(eq(endpoints.tenantId, id), isNull(endpoints.deletedAt)));
    let cancelled = 0;
    for (const ep of live) cancelled += await cancelPendingDeliveries(tx, ep.id, TENANT_DELETED);
    const disabled = await tx
      .update(endpoints)
      .set({ disabled: true, disabledReason: TENANT_DELETED, updatedAt: sql`now()` })
      .where(and(eq(endpoints.tenantId, id), isNull(endpoints.deletedAt), eq(endpoints.disabled, false)))
      .returning({ id: endpoints.id });
    await recordAudit(tx, ctx, {
      action: "tenant.delete",
      targetType: "tenant",
      targetId: id,
      tenantId: id,
      details: { cancelledDeliveries: cancelled, disabledEndpoints: disabled.length },
    });
  });
  // Its keys stop working here at once (other processes: the trigger's NOTIFY).
  ctx.deps.caches.invalidate(`tenant:${id}`);
}
