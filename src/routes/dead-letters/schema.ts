import { z } from "@hono/zod-openapi";
import { pageQuery, storable } from "../common.ts";

export const ListDeadLettersQuery = pageQuery("dlv").extend({
  endpointId: z.string().max(64).optional(),
  eventType: z.string().max(200).optional(),
  since: z.iso
    .datetime({ offset: true })
    .optional()
    .openapi({ description: "Dead-lettered at or after (ISO 8601)", example: "2026-12-01T00:00:00Z" }),
});

export const RedriveBody = z
  .strictObject({
    deliveryIds: z
      .array(storable(z.string().max(64)))
      .min(1)
      .max(1000)
      .optional(),
    endpointId: storable(z.string().max(64)).optional(),
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
    notFound: z.array(z.string()).openapi({
      description: "Given `deliveryIds` with no delivery you can see (unknown, or another tenant's)",
      example: ["dlv_01JF3ZQ4C8M3W5V6X7Y8Z9A0B1"],
    }),
    notDead: z.array(z.string()).openapi({
      description:
        "Given `deliveryIds` whose delivery is not a matching dead letter (pending, succeeded or cancelled, or outside `endpointId`/`since`), left alone",
      example: [],
    }),
  })
  .openapi("RedriveResult");
