import type { DbOrTx } from "../../../db/client.ts";
import { auditLog } from "../../../db/schema/index.ts";
import { newId } from "../../lib/ids.ts";
import type { ServiceCtx } from "../context.ts";

export type AuditInput = {
  action: string;
  targetType: string;
  targetId: string | null;
  /** Tenant the change belongs to; defaults to the caller's tenant. */
  tenantId?: string | null;
  /** Non-secret facts about the change (changed field names, counts). Never secrets. */
  details?: Record<string, unknown>;
};

/** Writes one audit row. Call it with the transaction that makes the change. */
export async function recordAudit(tx: DbOrTx, ctx: ServiceCtx, input: AuditInput): Promise<void> {
  await tx.insert(auditLog).values({
    id: newId("aud"),
    actorId: ctx.principal.keyId,
    actorRole: ctx.principal.role,
    tenantId: input.tenantId === undefined ? ctx.principal.tenantId : input.tenantId,
    action: input.action,
    targetType: input.targetType,
    targetId: input.targetId,
    sourceIp: ctx.sourceIp,
    requestId: ctx.requestId,
    details: input.details ?? {},
  });
}
