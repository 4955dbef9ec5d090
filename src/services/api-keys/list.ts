import { and, desc, eq, lt } from "drizzle-orm";
import { type ApiKey, apiKeys } from "../../../db/schema/index.ts";
import { type ServiceCtx, tenantScope } from "../context.ts";

export type ListApiKeysInput = { limit: number; cursor?: string | undefined; tenantId?: string | undefined };

/** Keys the caller may see, newest first; one row more than `limit` to detect a next page. */
export async function listApiKeys(ctx: ServiceCtx, input: ListApiKeysInput): Promise<ApiKey[]> {
  const scope = tenantScope(ctx);
  return ctx.deps.db
    .select()
    .from(apiKeys)
    .where(
      and(
        scope === null ? undefined : eq(apiKeys.tenantId, scope),
        input.tenantId ? eq(apiKeys.tenantId, input.tenantId) : undefined,
        input.cursor ? lt(apiKeys.id, input.cursor) : undefined,
      ),
    )
    .orderBy(desc(apiKeys.id))
    .limit(input.limit + 1);
}
