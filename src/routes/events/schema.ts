import { z } from "@hono/zod-openapi";
import type { StoredEvent } from "../../services/events/insert.ts";
import { pageQuery, pageSchema, plainLine, storable } from "../common.ts";

/** Largest number of events in one batch. */
export const MAX_BATCH = 100;

export const PublishEventBody = z
  .strictObject({
    type: storable(z.string().min(1).max(100)).openapi({ example: "signal.changed" }),
    data: z.record(z.string(), z.unknown()).openapi({
      description: "Any JSON object; see the type's schema in `/v1/event-types`",
      example: {
        symbol: "BTC",
        kind: "trading_signal",
        timeframe: "1d",
        previous: { value: "bearish" },
        current: { value: "bullish" },
        observedAt: "2026-12-03T00:00:00Z",
        source: "api",
      },
    }),
    tenantId: storable(z.string().min(1).max(64))
      .optional()
      .openapi({ description: "Deliver to this tenant only. Omit to deliver to every subscribed tenant." }),
    symbol: plainLine(z.string().min(1).max(64)).optional().openapi({
      description: "For endpoint symbol filters. Default: `data.symbol` when it is a string.",
      example: "BTC",
    }),
    timestamp: z.iso
      .datetime({ offset: true })
      .optional()
      .openapi({ description: "Event time (ISO 8601); default: now", example: "2026-12-03T00:00:00Z" }),
  })
  .openapi("PublishEvent");

export const PublishBatchBody = z
  .strictObject({ events: z.array(PublishEventBody).min(1).max(MAX_BATCH) })
  .openapi("PublishEventBatch");

export const IdempotencyHeaders = z.object({
  "idempotency-key": z
    .string()
    .regex(/^[\x20-\x7e]{1,255}$/, "must be 1–255 printable ASCII characters")
    .optional()
    .openapi({
      param: { name: "idempotency-key", in: "header" },
      description:
        "Makes a retry safe: a repeat with the same key (per API key) returns the first answer with `Idempotent-Replayed: true` and creates nothing; the same key with another body is a 422.",
      example: "publish-2026-12-03-btc-1d",
    }),
});

export const EventSummarySchema = z
  .object({
    id: z.string().openapi({ example: "evt_01JF3Z8Q4K2M6N8P0R2T4V6X8Z" }),
    type: z.string(),
    tenantId: z.string().nullable().openapi({ description: "null: every tenant" }),
    symbol: z.string().nullable(),
    timestamp: z.iso.datetime().openapi({ description: "Event time" }),
    createdAt: z.iso.datetime(),
  })
  .openapi("PublishedEvent");

export const BatchResultSchema = z
  .object({ data: z.array(EventSummarySchema) })
  .openapi("PublishedEventBatch");

export const EventSchema = EventSummarySchema.extend({
  data: z.unknown().openapi({ description: "The `data` as delivered" }),
}).openapi("Event");

export const EventListQuery = pageQuery("evt").extend({
  type: z.string().max(100).optional().openapi({ example: "signal.changed" }),
  since: z.iso.datetime({ offset: true }).optional().openapi({ description: "Created at or after" }),
  until: z.iso.datetime({ offset: true }).optional().openapi({ description: "Created before" }),
});

export const EventPage = pageSchema(EventSchema).openapi("EventPage");

export function toEvent(e: StoredEvent): z.infer<typeof EventSchema> {
  // `body` is the envelope we serialised ourselves at publish time.
  const envelope = JSON.parse(e.body) as { data?: unknown };
  return {
    id: e.id,
    type: e.type,
    tenantId: e.tenantId,
    symbol: e.symbol,
    timestamp: e.occurredAt.toISOString(),
    data: envelope.data ?? null,
    createdAt: e.createdAt.toISOString(),
  };
}
