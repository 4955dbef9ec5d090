import { and, eq, isNull } from "drizzle-orm";
import { endpoints, tenants } from "../../../db/schema/index.ts";
import { NotFoundError, ValidationError } from "../../errors/index.ts";
import { newId } from "../../lib/ids.ts";
import { recordAudit } from "../audit/record.ts";
import type { ServiceCtx } from "../context.ts";
import { changedFieldNames, type EndpointFields } from "./fields.ts";
import { type EndpointView, toEndpointView } from "./present.ts";
import { checkSuppliedSecret, storeSecret } from "./secrets.ts";
import { checkEndpointUrl, checkEventTypes } from "./validate.ts";

export type CreateEndpointInput = EndpointFields & {
  /** Operator: the owning tenant (required). Tenant keys: omitted, or their own tenant. */
  tenantId?: string | undefined;
  /** A caller-chosen `whsec_` secret (v1 only); generated when absent. */
  secret?: string | undefined;
};

/**
 * Creates an endpoint and its first signing key (encrypted at rest): a `whsec_` secret (v1, the
 * default) or an ed25519 key pair (v1a). `secret` in the result is what the receiver verifies
 * with — the `whsec_` secret or the `whpk_` public key; it never reaches a log line or the audit row.
 */
export async function createEndpoint(
  ctx: ServiceCtx,
  input: CreateEndpointInput,
): Promise<EndpointView & { secret: string }> {
  const tenantId = owningTenant(ctx, input.tenantId);
  const scheme = input.signatureScheme ?? "v1";
  checkSuppliedSecret(scheme, input.secret, "body.secret");
  checkEndpointUrl(ctx, input.url);
  return ctx.deps.db.transaction(async (tx) => {
    const [tenant] = await tx
      .select({ id: tenants.id })
      .from(tenants)
      .where(and(eq(tenants.id, tenantId), isNull(tenants.deletedAt)))
      .limit(1);
    if (!tenant) throw new NotFoundError("tenant", tenantId);
    await checkEventTypes(tx, input.eventTypes);
    const id = newId("ep");
    const [row] = await tx
      .insert(endpoints)
      .values({
        id,
        tenantId,
        url: input.url,
        description: input.description ?? "",
        eventTypes: input.eventTypes ?? null,
        symbols: input.symbols ?? null,
        headers: input.headers ?? {},
        metadata: input.metadata ?? {},
        disabled: input.disabled ?? false,
        disabledReason: input.disabled ? "created disabled" : null,
        rateLimitPerSecond: input.rateLimitPerSecond ?? null,
        maxConcurrency: input.maxConcurrency ?? null,
        retrySchedule: input.retrySchedule ?? null,
      })
      .returning();
    if (!row) throw new Error("inserting the endpoint returned no row");
    const { secret } = await storeSecret(ctx.deps, tx, id, input.secret, scheme);
    const { tenantId: _t, secret: _s, ...fields } = input;
    await recordAudit(tx, ctx, {
      action: "endpoint.create",
      targetType: "endpoint",
      targetId: id,
      tenantId,
      details: {
        fields: changedFieldNames(fields),
        headerNames: Object.keys(input.headers ?? {}),
        secretSupplied: input.secret !== undefined,
        signatureScheme: scheme,
      },
    });
    return { ...toEndpointView(row), secret };
  });
}

function owningTenant(ctx: ServiceCtx, requested: string | undefined): string {
  const p = ctx.principal;
  if (p.role === "operator") {
    if (!requested)
      throw new ValidationError("the request body is invalid", [
        {
          path: "body.tenantId",
          message: "operators must name the tenant that owns the endpoint",
          code: "required",
        },
      ]);
    return requested;
  }
  // A tenant naming another tenant learns nothing: the same 404 as an unknown id.
  if (!p.tenantId || (requested !== undefined && requested !== p.tenantId))
    throw new NotFoundError("tenant", requested);
  return p.tenantId;
}
