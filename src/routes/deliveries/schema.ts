import { z } from "@hono/zod-openapi";
import { pageQuery } from "../common.ts";

export const DELIVERY_STATUSES = ["pending", "succeeded", "dead", "cancelled"] as const;

const time = (description: string) =>
  z.iso.datetime({ offset: true }).optional().openapi({ description, example: "2026-12-01T00:00:00Z" });

export const ListDeliveriesQuery = pageQuery("dlv").extend({
  tenantId: z.string().max(64).optional().openapi({ description: "Operator only: one tenant's deliveries" }),
  endpointId: z.string().max(64).optional(),
  eventId: z.string().max(64).optional(),
  status: z.enum(DELIVERY_STATUSES).optional(),
  since: time("Created at or after (ISO 8601)"),
  until: time("Created before (ISO 8601)"),
});

export const AttemptSchema = z
  .object({
    id: z.string().openapi({ example: "att_01JF3ZQ4C8M3W5V6X7Y8Z9A0B1" }),
    number: z
      .number()
      .int()
      .openapi({ description: "1 for the first attempt, counting across retry cycles" }),
    trigger: z.enum(["scheduled", "manual"]),
    outcome: z.enum(["succeeded", "failed", "blocked"]),
    url: z.string(),
    startedAt: z.string(),
    durationMs: z.number().int(),
    statusCode: z.number().int().nullable(),
    errorClass: z.string().nullable().openapi({
      description: "timeout, connection_refused, dns, reset, tls, redirect, blocked, http_error, …",
    }),
    errorMessage: z.string().nullable(),
    requestHeaders: z.record(z.string(), z.string()),
    responseHeaders: z.record(z.string(), z.string()).nullable(),
    responseBody: z.string().nullable(),
    responseTruncated: z.boolean(),
  })
  .openapi("Attempt");

export const DeliverySchema = z
  .object({
    id: z.string().openapi({ example: "dlv_01JF3ZQ4C8M3W5V6X7Y8Z9A0B1" }),
    eventId: z.string(),
    endpointId: z.string(),
    tenantId: z.string(),
    eventType: z.string(),
    status: z.enum(DELIVERY_STATUSES),
    attemptCount: z.number().int(),
    nextAttemptAt: z.string().nullable(),
    lastAttemptAt: z.string().nullable(),
    lastStatusCode: z.number().int().nullable(),
    lastError: z.string().nullable(),
    completedAt: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("Delivery");

export const DeliveryWithAttemptsSchema = DeliverySchema.extend({ attempts: z.array(AttemptSchema) }).openapi(
  "DeliveryWithAttempts",
);
