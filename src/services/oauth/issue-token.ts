import { checkIpAllowed } from "../../auth/ip-allowlist.ts";
import { signAccessToken } from "../../auth/jwt.ts";
import { keyUnusableReason, loadKey, touchLastUsed } from "../../auth/key-checks.ts";
import { SCOPES, type Scope } from "../../auth/principal.ts";
import type { Deps } from "../../deps.ts";
import { ForbiddenError } from "../../errors/index.ts";
import { safeEqual, sha256Hex } from "../../lib/crypto.ts";

/** RFC 6749 §5.2 error codes. */
export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "invalid_scope";

/** A token-endpoint failure, answered as `{error, error_description}` (not problem+json). */
export class OAuthError extends Error {
  readonly error: OAuthErrorCode;
  readonly status: 400 | 401;
  constructor(error: OAuthErrorCode, description: string) {
    super(description);
    this.name = "OAuthError";
    this.error = error;
    this.status = error === "invalid_client" ? 401 : 400;
  }
}

export type TokenRequest = {
  grantType: string | undefined;
  clientId: string | undefined;
  clientSecret: string | undefined;
  /** Space-delimited; absent means every scope the key holds. */
  scope: string | undefined;
  clientIp: string | null;
};

export type TokenGrant = { accessToken: string; expiresIn: number; scope: string };

/**
 * Client credentials grant: the client id is an API key id (`key_…`), the secret that key's
 * token. The token's scopes are the requested ones, which must all be held by the key.
 */
export async function issueToken(deps: Deps, req: TokenRequest): Promise<TokenGrant> {
  if (!req.grantType) throw new OAuthError("invalid_request", "grant_type is required");
  if (req.grantType !== "client_credentials")
    throw new OAuthError("unsupported_grant_type", "only grant_type=client_credentials is supported");
  if (!req.clientId || !req.clientSecret)
    throw new OAuthError("invalid_client", "client authentication failed");
  const row = /^key_[0-9A-Za-z]{1,60}$/.test(req.clientId) ? await loadKey(deps, { id: req.clientId }) : null;
  // Hash comparison runs whether or not the id exists, so timing says nothing about the secret.
  const secretOk = safeEqual(row?.key.secretHash ?? "", sha256Hex(req.clientSecret));
  if (!row || !secretOk) throw new OAuthError("invalid_client", "client authentication failed");
  const now = deps.now();
  const unusable = keyUnusableReason(row, now);
  if (unusable) throw new OAuthError("invalid_client", unusable);
  try {
    checkIpAllowed(row.key.ipAllowlist, req.clientIp);
  } catch (err) {
    if (err instanceof ForbiddenError) throw new OAuthError("invalid_client", err.message);
    throw err;
  }
  const held = row.key.scopes as Scope[];
  let scopes: Scope[] = held;
  if (req.scope !== undefined) {
    const asked = [...new Set(req.scope.split(" ").filter(Boolean))];
    if (asked.length === 0) throw new OAuthError("invalid_scope", "scope must name at least one scope");
    const bad = asked.filter((s) => !(SCOPES as readonly string[]).includes(s) || !held.includes(s as Scope));
    if (bad.length) throw new OAuthError("invalid_scope", `this client may not request: ${bad.join(", ")}`);
    scopes = asked as Scope[];
  }
  await touchLastUsed(deps, row.key, now);
  const { token, expiresIn } = await signAccessToken(deps, {
    keyId: row.key.id,
    role: row.key.role,
    tenantId: row.key.tenantId,
    scopes,
  });
  return { accessToken: token, expiresIn, scope: scopes.join(" ") };
}
