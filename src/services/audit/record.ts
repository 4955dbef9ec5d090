import type { DbOrTx } from "../../../db/client.ts";
import { run } from "../../../db/raw.ts";
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
  await run(tx, INSERT_AUDIT, [
    newId("aud"),
    ctx.principal.keyId,
    ctx.principal.role,
    (input.tenantId === undefined ? ctx.principal.tenantId : input.tenantId) ?? null,
    input.action,
    input.targetType,
    input.targetId ?? null,
    ctx.sourceIp ?? null,
    ctx.requestId ?? null,
    JSON.stringify(input.details ?? {}),
  ]);
}

/** Constant text (db/raw.ts): every publish writes one. */
const INSERT_AUDIT = `
  insert into audit_log (id, actor_id, actor_role, tenant_id, action, target_type, target_id, source_ip, request_id, details)
  values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb)`;
