import { and, eq } from "drizzle-orm";
import { events } from "../../../db/schema/index.ts";
import { NotFoundError } from "../../errors/index.ts";
import { type ServiceCtx, tenantScope } from "../context.ts";
import type { StoredEvent } from "./insert.ts";
import { eventVisibleTo } from "./visibility.ts";

/** One event, if the caller may see it; otherwise 404, exactly as if it did not exist. */
export async function getEvent(ctx: ServiceCtx, id: string): Promise<StoredEvent> {
  const scope = tenantScope(ctx);
  const [row] = await ctx.deps.db
    .select()
    .from(events)
    .where(and(eq(events.id, id), scope === null ? undefined : eventVisibleTo(scope)))
    .limit(1);
  if (!row) throw new NotFoundError("event", id);
  return row;
}
