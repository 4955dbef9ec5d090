import { and, eq, isNull } from "drizzle-orm";
import type { DbOrTx } from "../../../db/client.ts";
import { type ApiKey, apiKeys, tenants } from "../../../db/schema/index.ts";
import { generateApiKeyToken } from "../../auth/api-key-token.ts";
import { normaliseCidr } from "../../auth/ip-allowlist.ts";
import { OPERATOR_ONLY_SCOPES, type Scope } from "../../auth/principal.ts";
import {
  ApiError,
  type FieldError,
  ForbiddenError,
  NotFoundError,
  ValidationError,
} from "../../errors/index.ts";
import { newId } from "../../lib/ids.ts";
import { recordAudit } from "../audit/record.ts";
import type { ServiceCtx } from "../context.ts";

export type CreateApiKeyInput = {
  name: string;
  tenantId?: string | undefined;
  scopes: readonly Scope[];
  expiresAt?: string | undefined;
  ipAllowlist?: readonly string[] | undefined;
};

/**
 * Creates a key and returns its token, which is never stored (only its SHA-256) nor shown again.
 * Operators create operator keys (no tenantId) or keys of any live tenant (422 for any other id).
 * A tenant creates keys for itself only (404 for any other tenant id), with scopes it holds
 * itself: a key can never mint a wider one.
 */
export async function createApiKey(
  ctx: ServiceCtx,
  input: CreateApiKeyInput,
): Promise<{ key: ApiKey; token: string }> {
  const p = ctx.principal;
  const scopes = [...new Set(input.scopes)];
  const now = ctx.deps.now();
  const expiresAt = input.expiresAt ? new Date(input.expiresAt) : null;
  if (expiresAt && expiresAt <= now)
    throw new ValidationError("the key would already be expired", [
      { path: "body.expiresAt", message: "must be in the future" },
    ]);
  const ipAllowlist = input.ipAllowlist?.map((c) => normaliseCidr(c) ?? c) ?? null;

  return ctx.deps.db.transaction(async (tx) => {
    if (p.role === "tenant" && !p.tenantId) throw new ForbiddenError("this credential has no tenant");
    const tenantId = p.role === "operator" ? (input.tenantId ?? null) : p.tenantId;
    // Another tenant's id reads as an id that does not exist: the same 404 as POST /v1/endpoints,
    // so a tenant cannot even learn that another tenant exists.
    if (p.role === "tenant" && input.tenantId !== undefined && input.tenantId !== p.tenantId)
      throw new NotFoundError("tenant", input.tenantId);
    if (tenantId !== null) await requireLiveTenant(tx, tenantId);
    // A tenant caller only ever mints tenant keys.
    const role = p.role === "tenant" || tenantId !== null ? "tenant" : "operator";
    checkGrantable(p.role, p.scopes, role, input.scopes);

    const { token, prefix, hash } = generateApiKeyToken();
    const [key] = await tx
      .insert(apiKeys)
      .values({
        id: newId("key"),
        tenantId,
        role,
        name: input.name,
        prefix,
        secretHash: hash,
        scopes,
        ipAllowlist,
        expiresAt,
      })
      .returning();
    if (!key) throw new Error("insert returned no row");
    await recordAudit(tx, ctx, {
      action: "api_key.create",
      targetType: "api_key",
      targetId: key.id,
      tenantId,
      details: { name: key.name, role, scopes, expiresAt: expiresAt?.toISOString() ?? null, ipAllowlist },
    });
    return { key, token };
  });
}

function unknownTenant(): ApiError {
  return new ApiError("unprocessable", "no such tenant", {
    errors: [{ path: "body.tenantId", message: "no live tenant has this id" }],
  });
}

async function requireLiveTenant(tx: DbOrTx, tenantId: string): Promise<void> {
  const [t] = await tx
    .select({ id: tenants.id })
    .from(tenants)
    .where(and(eq(tenants.id, tenantId), isNull(tenants.deletedAt)))
    .for("share")
    .limit(1);
  if (!t) throw unknownTenant();
}

/**
 * Tenant keys never carry operator-only scopes (422: the request is coherent but not grantable),
 * and a tenant caller cannot grant a scope it lacks itself (403).
 */
function checkGrantable(
  callerRole: "operator" | "tenant",
  callerScopes: readonly Scope[],
  keyRole: "operator" | "tenant",
  requested: readonly Scope[],
): void {
  if (callerRole === "tenant") {
    const errors: FieldError[] = [];
    requested.forEach((s, i) => {
      if (OPERATOR_ONLY_SCOPES.includes(s) || !callerScopes.includes(s))
        errors.push({ path: `body.scopes.${i}`, message: `you cannot grant "${s}": you do not hold it` });
    });
    if (errors.length)
      throw new ApiError("forbidden", "a key can only grant scopes its creator holds", { errors });
  }
  if (keyRole === "tenant") {
    const errors: FieldError[] = [];
    requested.forEach((s, i) => {
      if (OPERATOR_ONLY_SCOPES.includes(s))
        errors.push({ path: `body.scopes.${i}`, message: `"${s}" is only for operator keys` });
    });
    if (errors.length)
      throw new ApiError("unprocessable", "tenant keys cannot hold operator scopes", { errors });
  }
}
