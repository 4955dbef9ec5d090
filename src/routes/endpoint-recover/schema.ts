import { z } from "@hono/zod-openapi";

export const RecoverBody = z
  .strictObject({
    since: z.iso.datetime({ offset: true }).openapi({
      description:
        "Re-send deliveries created at or after this time (ISO 8601). At most RECOVER_MAX_WINDOW (default 14 days) ago.",
      example: "2026-12-01T00:00:00Z",
    }),
  })
  .openapi("RecoverRequest");

export const RecoverySchema = z
  .object({
    id: z.string().openapi({ example: "job_01JF3ZQ4C8M3W5V6X7Y8Z9A0B1" }),
    endpointId: z.string().openapi({ example: "ep_01JF3ZQ4C8M3W5V6X7Y8Z9A0B1" }),
    since: z.string().openapi({ example: "2026-12-01T00:00:00.000Z" }),
    status: z.enum(["queued", "running", "completed", "failed"]).openapi({
      description:
        "`failed` is retried automatically; `completed` means every matching delivery was re-sent.",
    }),
    total: z.number().int().nullable().openapi({ description: "Deliveries to re-send; null until counted." }),
    redriven: z.number().int().openapi({ description: "Deliveries re-sent so far." }),
    error: z.string().nullable(),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
  })
  .openapi("Recovery");

export const RecoveryParams = z.object({
  id: z
    .string()
    .max(64)
    .openapi({ param: { name: "id", in: "path" }, example: "ep_01JF3ZQ4C8M3W5V6X7Y8Z9A0B1" }),
  recoveryId: z
    .string()
    .max(64)
    .openapi({ param: { name: "recoveryId", in: "path" }, example: "job_01JF3ZQ4C8M3W5V6X7Y8Z9A0B1" }),
});
