import { and, eq, isNull } from "drizzle-orm";
import { oauthSigningKeys } from "../../../db/schema/index.ts";
import { recordAudit } from "../audit/record.ts";
import type { ServiceCtx } from "../context.ts";
import {
  clearSigningKeyCache,
  insertSigningKey,
  lockSigningKeys,
  RETIRE_SKEW_MS,
  SIGNING_ALG,
} from "./signing-keys.ts";

export type RotationResult = {
  kid: string;
  alg: string;
  createdAt: Date;
  retired: { kid: string; expiresAt: Date } | null;
};

/**
 * Makes a fresh key the signer. The previous one stays in the JWKS and keeps verifying until every
 * token it signed has expired (`OAUTH_TOKEN_TTL` plus a minute of skew), so no token breaks.
 */
export async function rotateSigningKey(ctx: ServiceCtx): Promise<RotationResult> {
  const { deps } = ctx;
  const result = await deps.db.transaction(async (tx) => {
    await lockSigningKeys(tx);
    const now = deps.now();
    const expiresAt = new Date(now.getTime() + deps.config.OAUTH_TOKEN_TTL + RETIRE_SKEW_MS);
    const [old] = await tx
      .update(oauthSigningKeys)
      .set({ retiredAt: now, expiresAt })
      .where(and(isNull(oauthSigningKeys.retiredAt), eq(oauthSigningKeys.alg, SIGNING_ALG)))
      .returning({ kid: oauthSigningKeys.kid });
    const created = await insertSigningKey(deps, tx);
    if (!created) throw new Error("a new signing key could not be inserted");
    await recordAudit(tx, ctx, {
      action: "oauth_signing_key.rotate",
      targetType: "oauth_signing_key",
      targetId: created.kid,
      tenantId: null,
      details: { alg: created.alg, retiredKid: old?.kid ?? null },
    });
    return {
      kid: created.kid,
      alg: created.alg,
      createdAt: created.createdAt,
      retired: old ? { kid: old.kid, expiresAt } : null,
    };
  });
  clearSigningKeyCache(deps);
  return result;
}
