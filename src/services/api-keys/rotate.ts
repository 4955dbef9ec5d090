import { asc, eq } from "drizzle-orm";
import { type ApiKey, apiKeys } from "../../../db/schema/index.ts";
import { generateApiKeyToken } from "../../auth/api-key-token.ts";
import { ConflictError, ForbiddenError } from "../../errors/index.ts";
import { newId } from "../../lib/ids.ts";
import { recordAudit } from "../audit/record.ts";
import type { ServiceCtx } from "../context.ts";
import { findVisibleKey } from "./get.ts";

export type RotateApiKeyInput = { gracePeriodSeconds: number };

/**
 * Replaces a key's secret: a new key row (same name, tenant, scopes, allowlist and expiry,
 * `rotatedFromId` = the old id) and the old key set to expire after the grace period (never later
 * than it already would). Returns the new token, shown once. A key rotates once: rotating it
 * again is a 409 naming its successor, which is the key to rotate next.
 */
export async function rotateApiKey(
  ctx: ServiceCtx,
  id: string,
  input: RotateApiKeyInput,
): Promise<{ key: ApiKey; token: string; previous: ApiKey }> {
  const rotated = await ctx.deps.db.transaction(async (tx) => {
    const old = await findVisibleKey(tx, ctx, id, { lock: true });
    const now = ctx.deps.now();
    if (old.revokedAt) throw new ConflictError("a revoked key cannot be rotated; create a new one");
    if (old.expiresAt && old.expiresAt <= now)
      throw new ConflictError("an expired key cannot be rotated; create a new one");
    // One successor per key: a second one would be a live key nobody asked to keep. The row lock
    // above serialises concurrent rotations, so the loser sees the winner's successor here.
    const [successor] = await tx
      .select({ id: apiKeys.id })
      .from(apiKeys)
      .where(eq(apiKeys.rotatedFromId, old.id))
      .orderBy(asc(apiKeys.id))
      .limit(1);
    if (successor)
      throw new ConflictError(`this key was already rotated; rotate its successor ${successor.id} instead`);
    // Rotation hands out a token with the key's scopes, so a tenant caller must hold them all.
    const p = ctx.principal;
    if (p.role === "tenant" && !old.scopes.every((s) => (p.scopes as readonly string[]).includes(s)))
      throw new ForbiddenError("you can only rotate keys whose scopes you hold yourself");

    const graceEnd = new Date(now.getTime() + input.gracePeriodSeconds * 1000);
    const oldExpiresAt = old.expiresAt && old.expiresAt < graceEnd ? old.expiresAt : graceEnd;
    const [previous] = await tx
      .update(apiKeys)
      .set({ expiresAt: oldExpiresAt })
      .where(eq(apiKeys.id, id))
      .returning();
    const { token, prefix, hash } = generateApiKeyToken();
    const [key] = await tx
      .insert(apiKeys)
      .values({
        id: newId("key"),
        tenantId: old.tenantId,
        role: old.role,
        name: old.name,
        prefix,
        secretHash: hash,
        scopes: old.scopes,
        ipAllowlist: old.ipAllowlist,
        expiresAt: old.expiresAt,
        rotatedFromId: old.id,
      })
      .returning();
    if (!key || !previous) throw new Error("rotation wrote no row");
    await recordAudit(tx, ctx, {
      action: "api_key.rotate",
      targetType: "api_key",
      targetId: old.id,
      tenantId: old.tenantId,
      details: {
        newKeyId: key.id,
        gracePeriodSeconds: input.gracePeriodSeconds,
        oldExpiresAt: oldExpiresAt.toISOString(),
      },
    });
    return { key, token, previous };
  });
  // The old key's expiry moved: forget any cached copy now (other processes: the trigger's NOTIFY).
  ctx.deps.caches.invalidate(`key:${id}`);
  return rotated;
}
