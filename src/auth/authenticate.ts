import type { MiddlewareHandler } from "hono";
import type { Deps } from "../deps.ts";
import { UnauthorizedError } from "../errors/index.ts";
import { safeEqual, sha256Hex } from "../lib/crypto.ts";
import type { AppEnv } from "../routes/env.ts";
import { parseApiKeyToken } from "./api-key-token.ts";
import { verifyAccessToken } from "./jwt.ts";
import { assertKeyUsable, loadKey, touchLastUsed } from "./key-checks.ts";
import type { Principal, Scope } from "./principal.ts";

/**
 * Resolves `Authorization: Bearer <token>` to a principal: an API key (`sp_…`) or a JWT access
 * token issued by `/oauth/token`. Unknown and malformed credentials all get the same 401; only a
 * caller that proved it holds a key learns that the key is revoked or expired.
 */
export function authenticate(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization");
    const m = header ? /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header) : null;
    if (!m?.[1]) throw new UnauthorizedError("send Authorization: Bearer <api key or access token>");
    const token = m[1];
    const deps = c.get("deps");
    const principal = token.startsWith("sp_")
      ? await verifyApiKey(deps, token, c.get("clientIp"))
      : await verifyAccessToken(deps, token, c.get("clientIp"));
    c.set("principal", principal);
    await next();
  };
}

async function verifyApiKey(deps: Deps, token: string, clientIp: string | null): Promise<Principal> {
  const parsed = parseApiKeyToken(token);
  if (!parsed) throw new UnauthorizedError("invalid credentials");
  const row = await loadKey(deps, { prefix: parsed.prefix });
  if (!row || !safeEqual(row.key.secretHash, sha256Hex(token)))
    throw new UnauthorizedError("invalid credentials");
  const now = deps.now();
  assertKeyUsable(row, now, clientIp);
  await touchLastUsed(deps, row.key, now);
  const key = row.key;
  return {
    keyId: key.id,
    role: key.role,
    tenantId: key.tenantId,
    scopes: key.scopes as Scope[],
    via: "api_key",
  };
}
