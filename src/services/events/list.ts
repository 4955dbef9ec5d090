import { and, desc, eq, gte, lt } from "drizzle-orm";
import { events } from "../../../db/schema/index.ts";
import { type ServiceCtx, tenantScope } from "../context.ts";
import type { StoredEvent } from "./insert.ts";
import { eventVisibleTo } from "./visibility.ts";

export type ListEventsInput = {
  limit: number;
  cursor?: string | undefined;
  type?: string | undefined;
  /** created at or after (ISO 8601) */
  since?: string | undefined;
  /** created before (ISO 8601) */
  until?: string | undefined;
};

/** Newest first; one row more than `limit`. Tenants see only what `eventVisibleTo` allows. */
export async function listEvents(ctx: ServiceCtx, input: ListEventsInput): Promise<StoredEvent[]> {
  const scope = tenantScope(ctx);
  return ctx.deps.db
    .select()
    .from(events)
    .where(
      and(
        scope === null ? undefined : eventVisibleTo(scope),
        input.type ? eq(events.type, input.type) : undefined,
        input.since ? gte(events.createdAt, new Date(input.since)) : undefined,
        input.until ? lt(events.createdAt, new Date(input.until)) : undefined,
        input.cursor ? lt(events.id, input.cursor) : undefined,
      ),
    )
    .orderBy(desc(events.id))
    .limit(input.limit + 1);
}
