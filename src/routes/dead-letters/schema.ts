import { z } from "@hono/zod-openapi";

export const ListDeadLettersQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50).openapi({ example: 50 }),
  cursor: z.string().max(200).optional().openapi({ description: "`nextCursor` of the previous page" }),
  endpointId: z.string().max(64).optional(),
  eventType: z.string().max(200).optional(),
  since: z.iso
    .datetime({ offset: true })
    .optional()
    .openapi({ description: "Dead-lettered at or after (ISO 8601)", example: "2026-12-01T00:00:00Z" }),
});

export const RedriveBody = z
  .strictObject({
    deliveryIds: z.array(z.string().max(64)).min(1).max(1000).optional(),
    endpointId: z.string().max(64).optional(),
    since: z.iso
      .datetime({ offset: true })
      .optional()
      .openapi({ description: "Dead-lettered at or after (ISO 8601)" }),
  })
  .openapi("Redrive", {
    description: "Selectors are combined (AND); at least one is required.",
    example: { endpointId: "ep_01JF3ZQ4C8M3W5V6X7Y8Z9A0B1", since: "2026-12-01T00:00:00Z" },
  });

export const RedriveResultSchema = z
  .object({
    redriven: z.number().int().openapi({ description: "Dead deliveries restarted" }),
    skipped: z.number().int().openapi({
      description: "Matching dead deliveries left alone because their endpoint is deleted or disabled",
    }),
  })
  .openapi("RedriveResult");
