import { and, eq, isNull, sql } from "drizzle-orm";
import { type EventType, eventTypes } from "../../../db/schema/index.ts";
import { recordAudit } from "../audit/record.ts";
import type { ServiceCtx } from "../context.ts";
import { getEventType } from "./get.ts";

/**
 * Marks an event type deprecated: it stays listed (with `includeDeprecated`) and endpoints keep
 * their filters, but new events of this type are refused. Idempotent; the seed never undoes it.
 */
export async function deprecateEventType(ctx: ServiceCtx, name: string): Promise<EventType> {
  const type = await ctx.deps.db.transaction(async (tx) => {
    const [row] = await tx
      .update(eventTypes)
      .set({ deprecatedAt: sql`now()` })
      .where(and(eq(eventTypes.name, name), isNull(eventTypes.deprecatedAt)))
      .returning();
    if (!row) return getEventType(ctx, name); // already deprecated (200 unchanged) or unknown (404)
    await recordAudit(tx, ctx, {
      action: "event_type.deprecate",
      targetType: "event_type",
      targetId: name,
      tenantId: null,
    });
    return row;
  });
  ctx.deps.caches.invalidate("event_types");
  return type;
}
