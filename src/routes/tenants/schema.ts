import { z } from "@hono/zod-openapi";
import type { Tenant } from "../../../db/schema/index.ts";
import { pageQuery, pageSchema, plainLine } from "../common.ts";

/** A display name: 1–200 characters, any script or emoji, no control characters. */
export const TenantName = plainLine(z.string().trim().min(1).max(200)).openapi({ example: "Acme Trading" });

/**
 * Free-form labels for the operator's own bookkeeping: up to 50 keys, keys ≤ 40 chars, values ≤ 500,
 * neither with control characters.
 */
export const TenantMetadata = z
  .record(plainLine(z.string().min(1).max(40)), plainLine(z.string().max(500)))
  .refine((m) => Object.keys(m).length <= 50, "at most 50 metadata keys")
  .openapi({ example: { plan: "pro", crmId: "C-1042" } });

export const TenantSchema = z
  .object({
    id: z.string().openapi({ example: "ten_01JF3Z8Q4K2M6N8P0R2T4V6X8Z" }),
    name: z.string(),
    metadata: z.record(z.string(), z.string()),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
    deletedAt: z.iso.datetime().nullable().openapi({ description: "Set once the tenant is deleted" }),
  })
  .openapi("Tenant");

export const CreateTenantBody = z
  .strictObject({ name: TenantName, metadata: TenantMetadata.optional() })
  .openapi("CreateTenant");

export const UpdateTenantBody = z
  .strictObject({
    name: TenantName.optional(),
    metadata: TenantMetadata.optional().openapi({ description: "Replaces the whole metadata map" }),
  })
  .refine((b) => b.name !== undefined || b.metadata !== undefined, "send at least one of name, metadata")
  .openapi("UpdateTenant");

export const TenantListQuery = pageQuery("ten").extend({
  includeDeleted: z
    .enum(["true", "false"])
    .default("false")
    .transform((v) => v === "true")
    .openapi({ description: "Include soft-deleted tenants" }),
});

export const TenantPage = pageSchema(TenantSchema).openapi("TenantPage");

export function toTenant(t: Tenant): z.infer<typeof TenantSchema> {
  return {
    id: t.id,
    name: t.name,
    metadata: t.metadata,
    createdAt: t.createdAt.toISOString(),
    updatedAt: t.updatedAt.toISOString(),
    deletedAt: t.deletedAt?.toISOString() ?? null,
  };
}
