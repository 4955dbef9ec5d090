import { and, eq, isNull, sql } from "drizzle-orm";
import type { PgUpdateSetSource } from "drizzle-orm/pg-core";
import type { Tx } from "../../../db/client.ts";
import { endpointSecrets, endpoints } from "../../../db/schema/index.ts";
import { isSensitiveHeader } from "../../delivery/headers.ts";
import type { SignatureScheme } from "../../delivery/sign.ts";
import { recordAudit } from "../audit/record.ts";
import type { ServiceCtx } from "../context.ts";
import { cancelPendingDeliveries } from "./cancel-pending.ts";
import { changedFieldNames, type EndpointFields } from "./fields.ts";
import { loadEndpoint } from "./load.ts";
import { type EndpointView, MASK, toEndpointView } from "./present.ts";
import { DEFAULT_GRACE_SECONDS } from "./rotate-secret.ts";
import { pruneOldSecrets, secretRows, storeSecret } from "./secrets.ts";
import { transactionWithRetry } from "./tx.ts";
import { checkEndpointUrl, checkEventTypes } from "./validate.ts";

export type UpdateEndpointInput = Partial<EndpointFields>;

/**
 * Changes an endpoint. A new URL is checked like at create time; the engine reads the URL at
 * every attempt, so pending retries go to the new one. Disabling cancels pending deliveries;
 * enabling clears the reason and the failure streak. A new `signatureScheme` generates a signing
 * key of that scheme (read it with GET /v1/endpoints/{id}/secret); the old keys keep signing for
 * the default rotation grace period (24 h), so receivers can switch without a gap.
 */
export async function updateEndpoint(
  ctx: ServiceCtx,
  id: string,
  input: UpdateEndpointInput,
): Promise<EndpointView> {
  if (input.url !== undefined) checkEndpointUrl(ctx, input.url);
  return transactionWithRetry(ctx.deps.db, async (tx) => {
    const { disabled, headers } = input;
    // Scope check first; then deliveries before the endpoint row, the delivery engine's lock order.
    const seen = await loadEndpoint(tx, ctx, id);
    const disabling = disabled === true && !seen.disabled;
    const cancelled = disabling ? await cancelPendingDeliveries(tx, id, "endpoint disabled") : 0;
    const current = await loadEndpoint(tx, ctx, id, { forUpdate: true });
    await checkEventTypes(tx, input.eventTypes);
    const set: PgUpdateSetSource<typeof endpoints> = {
      updatedAt: sql`now()`,
      url: input.url,
      description: input.description,
      eventTypes: input.eventTypes,
      symbols: input.symbols,
      metadata: input.metadata,
      rateLimitPerSecond: input.rateLimitPerSecond,
      maxConcurrency: input.maxConcurrency,
      retrySchedule: input.retrySchedule,
      headers: headers === undefined ? undefined : keepMaskedValues(headers, current.headers),
    };
    // The same effect as disableEndpoint(), in the lock order above.
    if (disabling) Object.assign(set, { disabled: true, disabledReason: "disabled by API" });
    else if (disabled === false && current.disabled)
      Object.assign(set, { disabled: false, disabledReason: null, failingSince: null });
    const [row] = await tx.update(endpoints).set(set).where(eq(endpoints.id, id)).returning();
    if (!row) throw new Error("updating the endpoint returned no row");
    const schemeChanged = await switchScheme(ctx, tx, id, input.signatureScheme);
    await recordAudit(tx, ctx, {
      action: "endpoint.update",
      targetType: "endpoint",
      targetId: id,
      tenantId: current.tenantId,
      details: {
        fields: changedFieldNames(input),
        ...(headers !== undefined ? { headerNames: Object.keys(headers) } : {}),
        ...(disabling ? { cancelledDeliveries: cancelled } : {}),
        ...(schemeChanged
          ? { signatureScheme: input.signatureScheme, gracePeriodSeconds: DEFAULT_GRACE_SECONDS }
          : {}),
      },
    });
    return toEndpointView(row);
  });
}

/**
 * Moves the endpoint to another signature scheme: a new current key of that scheme, the old ones
 * in grace for DEFAULT_GRACE_SECONDS. The same scheme again changes nothing. Returns whether it switched.
 */
async function switchScheme(
  ctx: ServiceCtx,
  tx: Tx,
  endpointId: string,
  scheme: SignatureScheme | undefined,
): Promise<boolean> {
  if (scheme === undefined) return false;
  const now = ctx.deps.now();
  const { current } = await secretRows(tx, endpointId, now);
  if (current?.scheme === scheme) return false;
  await tx
    .update(endpointSecrets)
    .set({ expiresAt: new Date(now.getTime() + DEFAULT_GRACE_SECONDS * 1000) })
    .where(and(eq(endpointSecrets.endpointId, endpointId), isNull(endpointSecrets.expiresAt)));
  await storeSecret(ctx.deps, tx, endpointId, undefined, scheme);
  await pruneOldSecrets(tx, endpointId, now);
  return true;
}

/** A sensitive header sent back as the mask (from a GET) keeps its stored value. */
function keepMaskedValues(
  next: Record<string, string>,
  stored: Record<string, string>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(next)) {
    const old = stored[k];
    out[k] = v === MASK && isSensitiveHeader(k) && old !== undefined ? old : v;
  }
  return out;
}
