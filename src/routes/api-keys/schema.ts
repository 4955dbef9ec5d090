import { z } from "@hono/zod-openapi";
import type { ApiKey } from "../../../db/schema/index.ts";
import { normaliseCidr } from "../../auth/ip-allowlist.ts";
import { SCOPES } from "../../auth/principal.ts";
import { pageQuery, pageSchema, plainLine, storable } from "../common.ts";

/** Longest grace period a rotation may keep the old key valid for: 7 days. */
export const MAX_GRACE_SECONDS = 7 * 24 * 3600;

export const ScopeSchema = z.enum(SCOPES).openapi("Scope");

export const ApiKeySchema = z
  .object({
    id: z.string().openapi({ example: "key_01JF3Z8Q4K2M6N8P0R2T4V6X8Z" }),
    name: z.string(),
    role: z.enum(["operator", "tenant"]),
    tenantId: z.string().nullable(),
    prefix: z.string().openapi({
      description:
        "The start of the token (`sp_<lookup id>`); enough to recognise a key, useless to authenticate",
      example: "sp_3k9x0m2q7v1c8b4n",
    }),
    scopes: z.array(ScopeSchema),
    ipAllowlist: z
      .array(z.string())
      .nullable()
      .openapi({ example: ["203.0.113.0/24", "2001:db8::/32"] }),
    expiresAt: z.iso.datetime().nullable(),
    lastUsedAt: z.iso.datetime().nullable().openapi({ description: "Updated at most once a minute" }),
    revokedAt: z.iso.datetime().nullable(),
    rotatedFromId: z.string().nullable().openapi({ description: "The key this one replaced by rotation" }),
    createdAt: z.iso.datetime(),
  })
  .openapi("ApiKey");

export const ApiKeyWithToken = ApiKeySchema.extend({
  token: z.string().openapi({
    description: "The secret. Shown only in this response; store it now.",
    example: "sp_3k9x0m2q7v1c8b4n_x2Jq6…",
  }),
}).openapi("ApiKeyWithToken");

export const CreateApiKeyBody = z
  .strictObject({
    name: plainLine(z.string().trim().min(1).max(200)).openapi({ example: "production publisher" }),
    tenantId: storable(z.string().max(64)).optional().openapi({
      description:
        "Operator: omit for an operator key, or name a tenant to create one of its keys. Tenant callers may omit it (their own tenant is implied).",
    }),
    scopes: z
      .array(ScopeSchema)
      .min(1)
      .max(SCOPES.length * 2)
      .openapi({ example: ["endpoints:read", "endpoints:write", "deliveries:read"] }),
    expiresAt: z.iso.datetime({ offset: true }).optional().openapi({ description: "Must be in the future" }),
    ipAllowlist: z
      .array(
        z
          .string()
          .max(64)
          .refine((v) => normaliseCidr(v) !== null, "must be an IPv4 or IPv6 address or CIDR"),
      )
      .min(1)
      .max(100)
      .optional()
      .openapi({ description: "Only these client addresses may use the key. Omit for no restriction." }),
  })
  .openapi("CreateApiKey");

export const RotateApiKeyBody = z
  .strictObject({
    gracePeriodSeconds: z.number().int().min(0).max(MAX_GRACE_SECONDS).default(86_400).openapi({
      description:
        "How long the old token keeps working: default 86400 (24 h), at most 604800 (7 days), 0 = stops now",
    }),
  })
  .openapi("RotateApiKey");

export const ApiKeyListQuery = pageQuery("key").extend({
  tenantId: storable(z.string().max(64))
    .optional()
    .openapi({ description: "Operator: only this tenant's keys" }),
});

export const ApiKeyPage = pageSchema(ApiKeySchema).openapi("ApiKeyPage");

export function toApiKey(k: ApiKey): z.infer<typeof ApiKeySchema> {
  return {
    id: k.id,
    name: k.name,
    role: k.role,
    tenantId: k.tenantId,
    prefix: `sp_${k.prefix}`,
    scopes: k.scopes.filter((s): s is z.infer<typeof ScopeSchema> =>
      (SCOPES as readonly string[]).includes(s),
    ),
    ipAllowlist: k.ipAllowlist,
    expiresAt: k.expiresAt?.toISOString() ?? null,
    lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
    revokedAt: k.revokedAt?.toISOString() ?? null,
    rotatedFromId: k.rotatedFromId,
    createdAt: k.createdAt.toISOString(),
  };
}

export const RotatedApiKey = ApiKeyWithToken.extend({
  previous: ApiKeySchema.openapi({ description: "The old key, now expiring at the end of the grace period" }),
}).openapi("RotatedApiKey");
