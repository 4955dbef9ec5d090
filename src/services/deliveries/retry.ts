import { eq } from "drizzle-orm";
import { endpoints } from "../../../db/schema/index.ts";
import { ConflictError } from "../../errors/index.ts";
import { recordAudit } from "../audit/record.ts";
import type { ServiceCtx } from "../context.ts";
import { loadDelivery } from "./get.ts";
import { manualAttemptOutstanding } from "./manual-attempt.ts";
import { type DeliveryView, toDeliveryView } from "./present.ts";
import { restartDeliveries } from "./restart.ts";

/**
 * "Retry now": a fresh retry cycle starting immediately, whatever the delivery's status (a
 * succeeded delivery is sent again). Refused (409) when its endpoint is deleted or disabled.
 *
 * A retry that arrives while the manual attempt of an earlier retry (or redrive, or recover) is
 * still to come — queued, or its request in flight — merges into it: no new job, no new cycle,
 * the same pending delivery answered. Otherwise every such retry would send a request of its own
 * and each recorded one would use up a step of the newest cycle. Retries of one delivery queue on
 * its row lock, so of any number sent at once (to any number of API processes) exactly one starts
 * the cycle. A retry after the manual attempt was recorded starts a new cycle, as the first did.
 * Every accepted call is audited; `details.merged` tells which started a cycle.
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
    // A statement of its own after the lock was granted (READ COMMITTED): it sees the job of a
    // retry that committed while this one waited for the row.
    const merged = await manualAttemptOutstanding(tx, delivery);
    if (!merged) await restartDeliveries(ctx.deps, tx, [delivery.id]);
    await recordAudit(tx, ctx, {
      action: "delivery.retry",
      targetType: "delivery",
      targetId: delivery.id,
      tenantId: delivery.tenantId,
      details: { previousStatus: delivery.status, attemptCount: delivery.attemptCount, merged },
    });
    return toDeliveryView(merged ? delivery : await loadDelivery(tx, ctx, delivery.id));
  });
}
