import { and, eq } from "drizzle-orm";
import { endpointRecoveries } from "../../../db/schema/index.ts";
import { NotFoundError } from "../../errors/index.ts";
import type { ServiceCtx } from "../context.ts";
import { loadEndpoint } from "../endpoints/load.ts";
import { presentRecovery, type RecoveryView } from "./present.ts";

/** A recovery run of an endpoint visible to the caller (404 for another tenant's). */
export async function getRecovery(
  ctx: ServiceCtx,
  endpointId: string,
  recoveryId: string,
): Promise<RecoveryView> {
  const { db } = ctx.deps;
  const endpoint = await loadEndpoint(db, ctx, endpointId);
  const [row] = await db
    .select()
    .from(endpointRecoveries)
    .where(and(eq(endpointRecoveries.id, recoveryId), eq(endpointRecoveries.endpointId, endpoint.id)))
    .limit(1);
  if (!row) throw new NotFoundError("recovery", recoveryId);
  return presentRecovery(row);
}
