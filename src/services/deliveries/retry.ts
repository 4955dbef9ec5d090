import { eq } from "drizzle-orm";
import { endpoints } from "../../../db/schema/index.ts";
import { ConflictError } from "../../errors/index.ts";
import { recordAudit } from "../audit/record.ts";
import type { ServiceCtx } from "../context.ts";
import { loadDelivery } from "./get.ts";
import { type DeliveryView, toDeliveryView } from "./present.ts";
import { restartDeliveries } from "./restart.ts";

/**
 * "Retry now": a fresh retry cycle starting immediately, whatever the delivery's status (a
 * succeeded delivery is sent again). Refused (409) when its endpoint is deleted or disabled.
 */
export async function retryDelivery(ctx: ServiceCtx, id: string): Promise<DeliveryView> {
  return ctx.deps.db.transaction(async (tx) => {
    const delivery = await loadDelivery(tx, ctx, id, { forUpdate: true });
    // FOR SHARE: a concurrent delete/disable waits for this commit, then cancels what we restart.
    const [endpoint] = await tx
      .select({ deletedAt: endpoints.deletedAt, disabled: endpoints.disabled })
      .from(endpoints)
      .where(eq(endpoints.id, delivery.endpointId))
      .for("share");
    if (!endpoint || endpoint.deletedAt)
      throw new ConflictError(
        `endpoint ${delivery.endpointId} has been deleted; its deliveries cannot be retried`,
      );
    if (endpoint.disabled)
      throw new ConflictError(`endpoint ${delivery.endpointId} is disabled; enable it before retrying`);
    await restartDeliveries(ctx.deps, tx, [delivery.id]);
    await recordAudit(tx, ctx, {
      action: "delivery.retry",
      targetType: "delivery",
      targetId: delivery.id,
      tenantId: delivery.tenantId,
      details: { previousStatus: delivery.status, attemptCount: delivery.attemptCount },
    });
    const updated = await loadDelivery(tx, ctx, delivery.id);
    return toDeliveryView(updated);
  });
}
