import { and, eq, isNull, lt, sql } from "drizzle-orm";
import { auditLog, endpoints } from "../../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { newId } from "../lib/ids.ts";
import { disableEndpoint } from "../services/endpoints/cancel-pending.ts";
import { insertEvents } from "../services/events/insert.ts";

/** Actor recorded in the audit log for changes made by the maintenance job. */
export const SYSTEM_ACTOR = { id: "system:maintenance", role: "system" } as const;

/**
 * Disables every live endpoint that has failed continuously for longer than `afterMs`
 * (`failing_since` older than that), cancels its pending deliveries, and publishes an
 * `endpoint.disabled` event to the tenant (delivered to its other endpoints subscribed to it),
 * all in one transaction per endpoint. Safe to run concurrently: rows are claimed with SKIP LOCKED.
 */
export async function disableLongFailingEndpoints(
  deps: Deps,
  opts: { afterMs: number; limit?: number },
): Promise<{ disabled: string[] }> {
  const cutoff = new Date(deps.now().getTime() - opts.afterMs);
  const due = await deps.db
    .select({ id: endpoints.id })
    .from(endpoints)
    .where(
      and(eq(endpoints.disabled, false), isNull(endpoints.deletedAt), lt(endpoints.failingSince, cutoff)),
    )
    .limit(opts.limit ?? 500);
  const disabled: string[] = [];
  for (const { id } of due) {
    const done = await deps.db.transaction(async (tx) => {
      const [ep] = await tx
        .select({ id: endpoints.id, tenantId: endpoints.tenantId, failingSince: endpoints.failingSince })
        .from(endpoints)
        .where(
          and(
            eq(endpoints.id, id),
            eq(endpoints.disabled, false),
            isNull(endpoints.deletedAt),
            lt(endpoints.failingSince, cutoff),
          ),
        )
        .for("update", { skipLocked: true });
      if (!ep?.failingSince) return false;
      const reason = `failing continuously since ${ep.failingSince.toISOString()}`;
      const { cancelled } = await disableEndpoint(tx, ep.id, reason);
      await insertEvents(deps, tx, [
        {
          type: "endpoint.disabled",
          tenantId: ep.tenantId,
          data: { endpointId: ep.id, reason, failingSince: ep.failingSince.toISOString() },
        },
      ]);
      await tx.insert(auditLog).values({
        id: newId("aud"),
        actorId: SYSTEM_ACTOR.id,
        actorRole: SYSTEM_ACTOR.role,
        tenantId: ep.tenantId,
        action: "endpoint.disabled",
        targetType: "endpoint",
        targetId: ep.id,
        details: { reason, cancelledDeliveries: cancelled, failingSince: ep.failingSince.toISOString() },
        createdAt: sql`now()`,
      });
      deps.logger.warn({ endpointId: ep.id, tenantId: ep.tenantId, cancelled }, "endpoint auto-disabled");
      return true;
    });
    if (done) disabled.push(id);
  }
  return { disabled };
}
