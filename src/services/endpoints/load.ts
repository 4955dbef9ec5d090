import { and, eq, isNull } from "drizzle-orm";
import type { DbOrTx } from "../../../db/client.ts";
import { type Endpoint, endpoints } from "../../../db/schema/index.ts";
import { NotFoundError } from "../../errors/index.ts";
import { type ServiceCtx, tenantScope } from "../context.ts";

/**
 * A live (not deleted) endpoint visible to the caller, or 404 — also for another tenant's id.
 * `forUpdate` locks the row for the rest of the transaction.
 */
export async function loadEndpoint(
  tx: DbOrTx,
  ctx: ServiceCtx,
  id: string,
  opts: { forUpdate?: boolean } = {},
): Promise<Endpoint> {
  const tenant = tenantScope(ctx);
  const q = tx
    .select()
    .from(endpoints)
    .where(
      and(
        eq(endpoints.id, id),
        isNull(endpoints.deletedAt),
        tenant ? eq(endpoints.tenantId, tenant) : undefined,
      ),
    )
    .limit(1);
  const [row] = opts.forUpdate ? await q.for("update") : await q;
  if (!row) throw new NotFoundError("endpoint", id);
  return row;
}
