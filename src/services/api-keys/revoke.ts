import { eq, sql } from "drizzle-orm";
import { type ApiKey, apiKeys } from "../../../db/schema/index.ts";
import { recordAudit } from "../audit/record.ts";
import type { ServiceCtx } from "../context.ts";
import { findVisibleKey } from "./get.ts";

/**
 * Revokes a key. Effective on the next request to any process: this one forgets its cached row at
 * commit, the others when the trigger's NOTIFY arrives (src/runtime/reference-cache.ts).
 * Revoking a revoked key changes nothing and answers the same (no second audit row).
 */
export async function revokeApiKey(ctx: ServiceCtx, id: string): Promise<ApiKey> {
  const key = await ctx.deps.db.transaction(async (tx) => {
    const key = await findVisibleKey(tx, ctx, id, { lock: true });
    if (key.revokedAt) return key;
    const [revoked] = await tx
      .update(apiKeys)
      .set({ revokedAt: sql`now()` })
      .where(eq(apiKeys.id, id))
      .returning();
    if (!revoked) throw new Error("update returned no row");
    await recordAudit(tx, ctx, {
      action: "api_key.revoke",
      targetType: "api_key",
      targetId: id,
      tenantId: key.tenantId,
      details: { name: key.name },
    });
    return revoked;
  });
  ctx.deps.caches.invalidate(`key:${id}`);
  return key;
}
