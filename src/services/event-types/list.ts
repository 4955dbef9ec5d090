import { and, asc, gt, isNull } from "drizzle-orm";
import { type EventType, eventTypes } from "../../../db/schema/index.ts";
import type { ServiceCtx } from "../context.ts";

export type ListEventTypesInput = { limit: number; cursor?: string | undefined; includeDeprecated: boolean };

/** The catalog in name order (the cursor is the last name seen); one row more than `limit`. */
export async function listEventTypes(ctx: ServiceCtx, input: ListEventTypesInput): Promise<EventType[]> {
  return ctx.deps.db
    .select()
    .from(eventTypes)
    .where(
      and(
        input.includeDeprecated ? undefined : isNull(eventTypes.deprecatedAt),
        input.cursor ? gt(eventTypes.name, input.cursor) : undefined,
      ),
    )
    .orderBy(asc(eventTypes.name))
    .limit(input.limit + 1);
}
