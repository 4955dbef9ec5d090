import { index, pgTable, text, uniqueIndex } from "drizzle-orm/pg-core";
import { createdAt, ts } from "./columns.ts";
import { tenants } from "./tenants.ts";

/**
 * API keys (and OAuth clients: a key's id is its client_id, its secret the client_secret).
 * Only a SHA-256 hash of the secret is stored; the secret is shown once.
 */
export const apiKeys = pgTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    /** null for operator keys */
    tenantId: text("tenant_id").references(() => tenants.id),
    role: text("role").$type<"operator" | "tenant">().notNull(),
    name: text("name").notNull(),
    /** The non-secret lookup part of the token (`sp_live_<prefix>_...`). */
    prefix: text("prefix").notNull(),
    secretHash: text("secret_hash").notNull(),
    scopes: text("scopes").array().notNull(),
    ipAllowlist: text("ip_allowlist").array(),
    expiresAt: ts("expires_at"),
    revokedAt: ts("revoked_at"),
    lastUsedAt: ts("last_used_at"),
    /** Set on the new key when it replaced another by rotation. */
    rotatedFromId: text("rotated_from_id"),
    createdAt: createdAt(),
  },
  (t) => [
    // Token lookup on every request.
    uniqueIndex("api_keys_prefix_uq").on(t.prefix),
    // Listing a tenant's keys.
    index("api_keys_tenant_idx").on(t.tenantId, t.id),
  ],
);
export type ApiKey = typeof apiKeys.$inferSelect;
