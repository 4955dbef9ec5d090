import { index, jsonb, pgTable, text } from "drizzle-orm/pg-core";
import { createdAt } from "./columns.ts";

/** Every mutation, written in the same transaction as the change. Never holds secrets. */
export const auditLog = pgTable(
  "audit_log",
  {
    id: text("id").primaryKey(),
    actorId: text("actor_id").notNull(),
    actorRole: text("actor_role").notNull(),
    tenantId: text("tenant_id"),
    action: text("action").notNull(),
    targetType: text("target_type").notNull(),
    targetId: text("target_id"),
    sourceIp: text("source_ip"),
    requestId: text("request_id"),
    details: jsonb("details").$type<Record<string, unknown>>().notNull().default({}),
    createdAt: createdAt(),
  },
  (t) => [
    // Tenant-scoped reads, newest first.
    index("audit_log_tenant_idx").on(t.tenantId, t.id),
    // Filter by target.
    index("audit_log_target_idx").on(t.targetType, t.targetId),
  ],
);
export type AuditEntry = typeof auditLog.$inferSelect;
