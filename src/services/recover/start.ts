import { sql as dsql } from "drizzle-orm";
import { fromDrizzle } from "pg-boss";
import { endpointRecoveries } from "../../../db/schema/index.ts";
import { ConflictError, ValidationError } from "../../errors/index.ts";
import { QUEUES, RecoverJob } from "../../jobs/queues.ts";
import { newId } from "../../lib/ids.ts";
import { recordAudit } from "../audit/record.ts";
import type { ServiceCtx } from "../context.ts";
import { loadEndpoint } from "../endpoints/load.ts";
import { presentRecovery, type RecoveryView } from "./present.ts";

/**
 * Starts a recovery of an endpoint: a job on QUEUES.recover that re-sends every delivery to it
 * created at or after `since` that was dead-lettered or cancelled. `since` must lie within
 * RECOVER_MAX_WINDOW of now and not in the future. The run row, its job and the audit row are
 * written in one transaction; progress is read with getRecovery.
 */
export async function startRecovery(
  ctx: ServiceCtx,
  endpointId: string,
  input: { since: Date },
): Promise<RecoveryView> {
  const { deps } = ctx;
  const now = deps.now();
  const maxMs = deps.config.RECOVER_MAX_WINDOW;
  if (input.since.getTime() > now.getTime())
    throw new ValidationError("the request body is invalid", [
      { path: "body.since", message: "must not be in the future", code: "too_big" },
    ]);
  if (now.getTime() - input.since.getTime() > maxMs)
    throw new ValidationError("the request body is invalid", [
      {
        path: "body.since",
        message: `must be within the last ${Math.round(maxMs / 86_400_000)} days`,
        code: "too_small",
      },
    ]);
  return deps.db.transaction(async (tx) => {
    const endpoint = await loadEndpoint(tx, ctx, endpointId);
    if (endpoint.disabled)
      throw new ConflictError("the endpoint is disabled; enable it before recovering its deliveries");
    const [row] = await tx
      .insert(endpointRecoveries)
      .values({
        id: newId("job"),
        endpointId: endpoint.id,
        tenantId: endpoint.tenantId,
        since: input.since,
        requestedBy: ctx.principal.keyId,
      })
      .returning();
    if (!row) throw new Error("insert returned no row");
    await deps.boss.insert(
      QUEUES.recover,
      [
        {
          data: RecoverJob.parse({
            recoveryId: row.id,
            endpointId: endpoint.id,
            since: input.since.toISOString(),
            requestedBy: ctx.principal.keyId,
          }),
        },
      ],
      { db: fromDrizzle(tx, dsql) },
    );
    await recordAudit(tx, ctx, {
      action: "endpoint.recover",
      targetType: "endpoint",
      targetId: endpoint.id,
      tenantId: endpoint.tenantId,
      details: { recoveryId: row.id, since: input.since.toISOString() },
    });
    return presentRecovery(row);
  });
}
