import { and, eq } from "drizzle-orm";
import type { DbOrTx } from "../../../db/client.ts";
import { type ApiKey, apiKeys } from "../../../db/schema/index.ts";
import { NotFoundError } from "../../errors/index.ts";
import { type ServiceCtx, tenantScope } from "../context.ts";

/**
 * A key the caller may see: operators see every key, a tenant only its own tenant's. Anything else
 * is 404, exactly as if it did not exist. `lock` takes a row lock for the caller's transaction.
 */
export async function findVisibleKey(
  db: DbOrTx,
  ctx: ServiceCtx,
  id: string,
  opts: { lock?: boolean } = {},
): Promise<ApiKey> {
  const scope = tenantScope(ctx);
  const q = db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.id, id), scope === null ? undefined : eq(apiKeys.tenantId, scope)))
    .limit(1);
  const [row] = opts.lock ? await q.for("update") : await q;
  if (!row) throw new NotFoundError("API key", id);
  return row;
}

export async function getApiKey(ctx: ServiceCtx, id: string): Promise<ApiKey> {
  return findVisibleKey(ctx.deps.db, ctx, id);
}
