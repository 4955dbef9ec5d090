import { z } from "@hono/zod-openapi";
import type { AuditEntry } from "../../../db/schema/index.ts";
import { pageQuery, pageSchema } from "../common.ts";

const filter = (description: string, example: string) =>
  z.string().min(1).max(200).optional().openapi({ description, example });

/** Strict: a misspelt filter is an error, not a silently unfiltered audit trail. */
export const AuditListQuery = z
  .strictObject({
    ...pageQuery("aud").shape,
    action: filter("Exact action", "endpoint.create"),
    targetType: filter("Exact target type", "endpoint"),
    targetId: filter("Exact target id", "ep_01JF3Z8Q4K2M6N8P0R2T4V6X8Z"),
    actorId: filter("Key id (or client id) that made the change", "key_01JF3Z8Q4K2M6N8P0R2T4V6X8Z"),
    tenantId: filter("Tenant the change belongs to", "ten_01JF3Z8Q4K2M6N8P0R2T4V6X8Z"),
    since: z.iso
      .datetime({ offset: true })
      .optional()
      .openapi({ description: "Rows at or after this time", example: "2026-12-01T00:00:00Z" }),
    until: z.iso
      .datetime({ offset: true })
      .optional()
      .openapi({ description: "Rows before this time", example: "2026-12-02T00:00:00Z" }),
  })
  .refine((q) => !q.since || !q.until || new Date(q.since) < new Date(q.until), {
    message: "since must be before until",
    path: ["until"],
  });

export const AuditEntrySchema = z
  .object({
    id: z.string().openapi({ example: "aud_01JF3Z8Q4K2M6N8P0R2T4V6X8Z" }),
    actorId: z.string().openapi({ example: "key_01JF3Z8Q4K2M6N8P0R2T4V6X8Z" }),
    actorRole: z.string().openapi({ example: "tenant" }),
    tenantId: z.string().nullable(),
    action: z.string().openapi({ example: "endpoint.create" }),
    targetType: z.string().openapi({ example: "endpoint" }),
    targetId: z.string().nullable(),
    sourceIp: z.string().nullable().openapi({ example: "203.0.113.7" }),
    requestId: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
    createdAt: z.iso.datetime(),
  })
  .openapi("AuditEntry");

export const AuditPage = pageSchema(AuditEntrySchema).openapi("AuditPage");

export function toAuditEntry(a: AuditEntry): z.infer<typeof AuditEntrySchema> {
  return {
    id: a.id,
    actorId: a.actorId,
    actorRole: a.actorRole,
    tenantId: a.tenantId,
    action: a.action,
    targetType: a.targetType,
    targetId: a.targetId,
    sourceIp: a.sourceIp,
    requestId: a.requestId,
    details: a.details,
    createdAt: a.createdAt.toISOString(),
  };
}
