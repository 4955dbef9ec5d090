import { and, desc, eq, gte, lt } from "drizzle-orm";
import { type AuditEntry, auditLog } from "../../../db/schema/index.ts";
import { type ServiceCtx, tenantScope } from "../context.ts";

export type ListAuditInput = {
  limit: number;
  cursor?: string | undefined;
  action?: string | undefined;
  targetType?: string | undefined;
  targetId?: string | undefined;
  actorId?: string | undefined;
  tenantId?: string | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
};

/**
 * Audit rows, newest first. Operators see every row; a tenant only rows of its own tenant (a
 * `tenantId` filter naming another tenant simply matches nothing). Fetches `limit + 1` rows.
 */
export async function listAuditEntries(ctx: ServiceCtx, input: ListAuditInput): Promise<AuditEntry[]> {
  const scope = tenantScope(ctx);
  return ctx.deps.db
    .select()
    .from(auditLog)
    .where(
      and(
        scope === null ? undefined : eq(auditLog.tenantId, scope),
        input.tenantId ? eq(auditLog.tenantId, input.tenantId) : undefined,
        input.action ? eq(auditLog.action, input.action) : undefined,
        input.targetType ? eq(auditLog.targetType, input.targetType) : undefined,
        input.targetId ? eq(auditLog.targetId, input.targetId) : undefined,
        input.actorId ? eq(auditLog.actorId, input.actorId) : undefined,
        input.since ? gte(auditLog.createdAt, input.since) : undefined,
        input.until ? lt(auditLog.createdAt, input.until) : undefined,
        input.cursor ? lt(auditLog.id, input.cursor) : undefined,
      ),
    )
    .orderBy(desc(auditLog.id))
    .limit(input.limit + 1);
}
