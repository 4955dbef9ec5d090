import { and, eq, isNull, lt, or } from "drizzle-orm";
import type { MiddlewareHandler } from "hono";
import { apiKeys, tenants } from "../../db/schema/index.ts";
import { UnauthorizedError } from "../errors/index.ts";
import { safeEqual, sha256Hex } from "../lib/crypto.ts";
import type { AppEnv } from "../routes/env.ts";
import { parseApiKeyToken } from "./api-key-token.ts";
import { checkIpAllowed } from "./ip-allowlist.ts";
import { verifyAccessToken } from "./jwt.ts";
import type { Principal, Scope } from "./principal.ts";

/** `last_used_at` is written at most this often per key, to keep reads read-only. */
const LAST_USED_GRANULARITY_MS = 60_000;

/**
 * Resolves `Authorization: Bearer <token>` to a principal: an API key (`sp_…`) or a JWT access
 * token issued by `/oauth/token`. Every failure is the same 401 so probing learns nothing.
 */
export function authenticate(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization");
    const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!m?.[1]) throw new UnauthorizedError("send Authorization: Bearer <api key or access token>");
    const token = m[1];
    const deps = c.get("deps");
    const principal = token.startsWith("sp_")
      ? await verifyApiKey(c.get("deps"), token, c.get("clientIp"))
      : await verifyAccessToken(deps, token, c.get("clientIp"));
    c.set("principal", principal);
    await next();
  };
}

async function verifyApiKey(
  deps: AppEnv["Variables"]["deps"],
  token: string,
  clientIp: string | null,
): Promise<Principal> {
  const parsed = parseApiKeyToken(token);
  if (!parsed) throw new UnauthorizedError("invalid credentials");
  const [row] = await deps.db
    .select({ key: apiKeys, tenantDeletedAt: tenants.deletedAt })
    .from(apiKeys)
    .leftJoin(tenants, eq(tenants.id, apiKeys.tenantId))
    .where(eq(apiKeys.prefix, parsed.prefix))
    .limit(1);
  if (!row || !safeEqual(row.key.secretHash, sha256Hex(token)))
    throw new UnauthorizedError("invalid credentials");
  const key = row.key;
  const now = deps.now();
  if (key.revokedAt) throw new UnauthorizedError("this API key has been revoked");
  if (key.expiresAt && key.expiresAt <= now) throw new UnauthorizedError("this API key has expired");
  if (key.role === "tenant" && (!key.tenantId || row.tenantDeletedAt))
    throw new UnauthorizedError("invalid credentials");
  checkIpAllowed(key.ipAllowlist, clientIp);
  if (!key.lastUsedAt || now.getTime() - key.lastUsedAt.getTime() > LAST_USED_GRANULARITY_MS) {
    const stale = new Date(now.getTime() - LAST_USED_GRANULARITY_MS);
    await deps.db
      .update(apiKeys)
      .set({ lastUsedAt: now })
      .where(and(eq(apiKeys.id, key.id), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, stale))));
  }
  return {
    keyId: key.id,
    role: key.role,
    tenantId: key.tenantId,
    scopes: key.scopes as Scope[],
    via: "api_key",
  };
}
