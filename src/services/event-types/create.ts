import { type EventType, eventTypes } from "../../../db/schema/index.ts";
import { ConflictError } from "../../errors/index.ts";
import { recordAudit } from "../audit/record.ts";
import type { ServiceCtx } from "../context.ts";

export type CreateEventTypeInput = {
  name: string;
  description: string;
  schema?: Record<string, unknown> | undefined;
  example?: unknown;
};

/** With no schema given, `data` is described as "any JSON object". */
const DEFAULT_SCHEMA = { $schema: "https://json-schema.org/draft/2020-12/schema", type: "object" };

/** Adds an event type to the catalog (operator only). An existing name is a 409. */
export async function createEventType(ctx: ServiceCtx, input: CreateEventTypeInput): Promise<EventType> {
  return ctx.deps.db.transaction(async (tx) => {
    const [row] = await tx
      .insert(eventTypes)
      .values({
        name: input.name,
        description: input.description,
        schema: input.schema ?? DEFAULT_SCHEMA,
        example: input.example ?? null,
      })
      .onConflictDoNothing({ target: eventTypes.name })
      .returning();
    if (!row) throw new ConflictError(`event type ${input.name} already exists`);
    await recordAudit(tx, ctx, {
      action: "event_type.create",
      targetType: "event_type",
      targetId: row.name,
      tenantId: null,
      details: { description: row.description },
    });
    return row;
  });
}
