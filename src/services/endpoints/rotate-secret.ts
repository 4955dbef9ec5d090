import { and, eq, gt, isNull, sql } from "drizzle-orm";
import { endpointSecrets } from "../../../db/schema/index.ts";
import { recordAudit } from "../audit/record.ts";
import type { ServiceCtx } from "../context.ts";
import { loadEndpoint } from "./load.ts";
import { checkSuppliedSecret, pruneOldSecrets, secretRows, storeSecret } from "./secrets.ts";

/** Default grace period of a rotated-out secret: 24 h, in seconds. */
export const DEFAULT_GRACE_SECONDS = 86_400;

export type RotateSecretInput = {
  /** How long the replaced secret keeps signing, in seconds (0–604800). Default 86400. */
  gracePeriodSeconds?: number | undefined;
  /** A caller-chosen new `whsec_` secret (v1 endpoints only); generated when absent. */
  secret?: string | undefined;
};

/**
 * Replaces the current secret. The old one keeps signing until now + grace (and older secrets
 * still in an earlier grace stop by then too, so grace 0 cuts every old secret off at once), so during the grace
 * period every delivery carries one `v1,` signature per active secret; at most MAX_OLD_SECRETS
 * rotated-out secrets are kept. The new key has the current one's scheme: a v1a endpoint gets a
 * new ed25519 key pair, and `secret` is its `whpk_` public key (two `v1a,` signatures during grace).
 */
export async function rotateEndpointSecret(
  ctx: ServiceCtx,
  id: string,
  input: RotateSecretInput,
): Promise<{ secret: string; createdAt: string; previousExpiresAt: string | null }> {
  const now = ctx.deps.now();
  const grace = input.gracePeriodSeconds ?? DEFAULT_GRACE_SECONDS;
  const expiresAt = new Date(now.getTime() + grace * 1000);
  return ctx.deps.db.transaction(async (tx) => {
    const endpoint = await loadEndpoint(tx, ctx, id, { forUpdate: true });
    const scheme = (await secretRows(tx, endpoint.id, now)).current?.scheme ?? "v1";
    checkSuppliedSecret(scheme, input.secret, "body.secret");
    const replaced = await tx
      .update(endpointSecrets)
      .set({ expiresAt })
      .where(and(eq(endpointSecrets.endpointId, endpoint.id), isNull(endpointSecrets.expiresAt)))
      .returning({ id: endpointSecrets.id });
    // Secrets still in the grace of an earlier rotation stop no later than this one's grace ends:
    // a rotation with grace 0 must cut off every old secret at once (a leaked one included).
    await tx
      .update(endpointSecrets)
      .set({ expiresAt: sql`least(${endpointSecrets.expiresAt}, ${expiresAt.toISOString()}::timestamptz)` })
      .where(and(eq(endpointSecrets.endpointId, endpoint.id), gt(endpointSecrets.expiresAt, now)));
    const { secret, row } = await storeSecret(ctx.deps, tx, endpoint.id, input.secret, scheme);
    const pruned = await pruneOldSecrets(tx, endpoint.id, now);
    await recordAudit(tx, ctx, {
      action: "endpoint.secret.rotate",
      targetType: "endpoint",
      targetId: endpoint.id,
      tenantId: endpoint.tenantId,
      details: { gracePeriodSeconds: grace, secretSupplied: input.secret !== undefined, pruned },
    });
    return {
      secret,
      createdAt: row.createdAt.toISOString(),
      previousExpiresAt: replaced.length ? expiresAt.toISOString() : null,
    };
  });
}
