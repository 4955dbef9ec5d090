import { type EventType, eventTypes } from "../../../db/schema/index.ts";
import { ConflictError, type FieldError, ValidationError } from "../../errors/index.ts";
import { recordAudit } from "../audit/record.ts";
import type { ServiceCtx } from "../context.ts";
import { eventDataErrors, JSON_SCHEMA_DRAFT, type SchemaProblem, schemaProblems } from "./data-schema.ts";

export type CreateEventTypeInput = {
  name: string;
  description: string;
  schema?: Record<string, unknown> | undefined;
  example?: unknown;
};

/** With no schema given, `data` is described as "any JSON object". */
const DEFAULT_SCHEMA = { $schema: JSON_SCHEMA_DRAFT, type: "object" };

/**
 * Adds an event type to the catalog (operator only). The schema must be a usable draft 2020-12
 * schema and the example must conform to it (400 naming the paths); an existing name is a 409.
 */
export async function createEventType(ctx: ServiceCtx, input: CreateEventTypeInput): Promise<EventType> {
  checkSchemaAndExample(input);
  const type = await ctx.deps.db.transaction(async (tx) => {
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
  ctx.deps.caches.invalidate("event_types");
  return type;
}

function checkSchemaAndExample(input: CreateEventTypeInput): void {
  const at = (root: string, problems: SchemaProblem[]): FieldError[] =>
    problems.map((p) => ({
      path: p.path ? `${root}.${p.path}` : root,
      message: p.message,
      code: p.code,
    }));
  if (input.schema) {
    const errors = at("body.schema", schemaProblems(input.schema));
    if (errors.length)
      throw new ValidationError("the schema is not a usable JSON Schema (draft 2020-12)", errors);
  }
  if (input.example !== undefined) {
    const errors = at("body.example", eventDataErrors(input.schema ?? DEFAULT_SCHEMA, input.example));
    if (errors.length) throw new ValidationError("the example does not match the schema", errors);
  }
}
