import { and, desc, eq, gte, lt } from "drizzle-orm";
import { type DeliveryStatus, deliveries } from "../../../db/schema/index.ts";
import { type ServiceCtx, tenantScope } from "../context.ts";
import { type DeliveryView, toDeliveryView } from "./present.ts";

export type ListDeliveriesInput = {
  limit: number;
  cursor?: string | undefined;
  /** Operators only; a tenant always sees its own. */
  tenantId?: string | undefined;
  endpointId?: string | undefined;
  eventId?: string | undefined;
  /** Dead letters: `eventType` filter too. */
  eventType?: string | undefined;
  status?: DeliveryStatus | undefined;
  /** Created at or after. */
  since?: Date | undefined;
  /** Created before. */
  until?: Date | undefined;
  /** Dead-lettered (completed) at or after; used by the dead-letter list. */
  deadSince?: Date | undefined;
};

/**
 * The caller's deliveries, newest first (by id, which is time-sortable). Returns up to
 * `limit + 1` rows so the caller can tell whether another page exists.
 */
export async function listDeliveries(ctx: ServiceCtx, input: ListDeliveriesInput): Promise<DeliveryView[]> {
  const tenant = tenantScope(ctx) ?? input.tenantId;
  const rows = await ctx.deps.db
    .select()
    .from(deliveries)
    .where(
      and(
        tenant ? eq(deliveries.tenantId, tenant) : undefined,
        input.endpointId ? eq(deliveries.endpointId, input.endpointId) : undefined,
        input.eventId ? eq(deliveries.eventId, input.eventId) : undefined,
        input.eventType ? eq(deliveries.eventType, input.eventType) : undefined,
        input.status ? eq(deliveries.status, input.status) : undefined,
        input.since ? gte(deliveries.createdAt, input.since) : undefined,
        input.until ? lt(deliveries.createdAt, input.until) : undefined,
        input.deadSince ? gte(deliveries.completedAt, input.deadSince) : undefined,
        input.cursor ? lt(deliveries.id, input.cursor) : undefined,
      ),
    )
    .orderBy(desc(deliveries.id))
    .limit(input.limit + 1);
  return rows.map(toDeliveryView);
}
