import { eq } from "drizzle-orm";
import { type EventType, eventTypes } from "../../../db/schema/index.ts";
import { NotFoundError } from "../../errors/index.ts";
import type { ServiceCtx } from "../context.ts";

/** One event type, deprecated ones included. Every authenticated caller may read the catalog. */
export async function getEventType(ctx: ServiceCtx, name: string): Promise<EventType> {
  const [row] = await ctx.deps.db.select().from(eventTypes).where(eq(eventTypes.name, name)).limit(1);
  if (!row) throw new NotFoundError("event type", name);
  return row;
}
