import { z } from "@hono/zod-openapi";
import type { EventType } from "../../../db/schema/index.ts";
import { BUILT_IN_EVENT_TYPES } from "../../services/event-types/catalog.ts";
import { nulPath, pageQueryWith, pageSchema, plainText } from "../common.ts";

/** Dotted lowercase names: `signal.changed`, `grade.upgraded`, `billing.invoice_paid`. */
export const EVENT_TYPE_NAME_RE = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;

/** Largest schema or example an operator may register, serialised. */
const MAX_DOCUMENT_BYTES = 65_536;

/** A JSON object stored as jsonb: bounded in size, and with no U+0000 in any string or key. */
const jsonObject = (what: string) =>
  z
    .record(z.string(), z.unknown())
    .refine(
      (v) => Buffer.byteLength(JSON.stringify(v), "utf8") <= MAX_DOCUMENT_BYTES,
      `the ${what} must serialise to at most ${MAX_DOCUMENT_BYTES} bytes`,
    )
    .superRefine((v, ctx) => {
      const at = nulPath(v);
      if (at)
        ctx.addIssue({ code: "custom", path: at, message: "must not contain the NUL character (U+0000)" });
    });

export const EventTypeName = z
  .string()
  .max(100)
  .regex(EVENT_TYPE_NAME_RE, "must be dotted lowercase words, like `signal.changed`")
  .openapi({ example: "signal.changed" });

export const EventTypeSchema = z
  .object({
    name: z.string().openapi({ example: "signal.changed" }),
    description: z.string(),
    schema: z
      .record(z.string(), z.unknown())
      .openapi({ description: "JSON Schema (draft 2020-12) of the event's `data`" }),
    example: z.unknown().openapi({ description: "An example `data`" }),
    builtIn: z.boolean().openapi({ description: "Part of Signalpost's own catalog" }),
    deprecated: z.boolean(),
    deprecatedAt: z.iso.datetime().nullable(),
    createdAt: z.iso.datetime(),
  })
  .openapi("EventType");

export const CreateEventTypeBody = z
  .strictObject({
    name: EventTypeName,
    description: plainText(z.string().trim().min(1).max(1000)).openapi({
      example: "A symbol's trading signal flipped",
    }),
    schema: jsonObject("schema").optional().openapi({
      description:
        "JSON Schema (draft 2020-12) of `data`, enforced on publish (422 naming each bad path); default: any object. An invalid or uncompilable schema (unknown draft, unresolvable `$ref`, bad `pattern`) is a 400.",
    }),
    example: jsonObject("example")
      .optional()
      .openapi({ description: "An example `data` object; must conform to `schema`" }),
  })
  .openapi("CreateEventType");

export const EventTypeNameParam = z.object({
  name: z
    .string()
    .max(100)
    .openapi({ param: { name: "name", in: "path" }, example: "signal.changed" }),
});

export const EventTypeListQuery = pageQueryWith(
  z.string().max(100).regex(EVENT_TYPE_NAME_RE, "must be the nextCursor of a previous page (a type name)"),
  "signal.changed",
).extend({
  includeDeprecated: z
    .enum(["true", "false"])
    .default("false")
    .transform((v) => v === "true")
    .openapi({ description: "Include deprecated types" }),
});

export const EventTypePage = pageSchema(EventTypeSchema).openapi("EventTypePage");

export function toEventType(t: EventType): z.infer<typeof EventTypeSchema> {
  return {
    name: t.name,
    description: t.description,
    schema: t.schema,
    example: t.example ?? null,
    builtIn: BUILT_IN_EVENT_TYPES.has(t.name),
    deprecated: t.deprecatedAt !== null,
    deprecatedAt: t.deprecatedAt?.toISOString() ?? null,
    createdAt: t.createdAt.toISOString(),
  };
}

/** Cursor pagination keyed by name (event types have no id). */
export function eventTypePage(rows: EventType[], limit: number) {
  const hasMore = rows.length > limit;
  const data = hasMore ? rows.slice(0, limit) : rows;
  return { data: data.map(toEventType), hasMore, nextCursor: hasMore ? (data.at(-1)?.name ?? null) : null };
}
