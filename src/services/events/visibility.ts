import { eq, exists, or, type SQL, sql } from "drizzle-orm";
import { deliveries, events } from "../../../db/schema/index.ts";

/**
 * What a tenant may see of the event log: events addressed to it, and events that were delivered
 * (or are being delivered) to one of its endpoints. A broadcast that matched none of its endpoints
 * stays invisible to it.
 */
export function eventVisibleTo(tenantId: string): SQL | undefined {
  return or(
    eq(events.tenantId, tenantId),
    exists(
      sql`(select 1 from ${deliveries} where ${deliveries.eventId} = ${events.id} and ${deliveries.tenantId} = ${tenantId})`,
    ),
  );
}
