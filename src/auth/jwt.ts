import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import type { Config } from "../config.ts";
import type { Deps } from "../deps.ts";
import { UnauthorizedError } from "../errors/index.ts";
import { randomToken } from "../lib/crypto.ts";
import { currentSigningKey, SIGNING_ALG, verificationKey } from "../services/oauth/signing-keys.ts";
import { assertKeyUsable, loadKey } from "./key-checks.ts";
import type { Principal, Scope } from "./principal.ts";

/** `aud` of every access token: this API and nothing else. */
export const AUDIENCE = "signalpost-api";
/** RFC 9068 media type in the JOSE header; tokens of any other `typ` (e.g. ID tokens) are refused. */
export const TOKEN_TYPE = "at+jwt";

/** `iss` of every access token: PUBLIC_URL, or http://HOST:PORT. */
export function issuerOf(config: Pick<Config, "PUBLIC_URL" | "HOST" | "PORT">): string {
  return (config.PUBLIC_URL ?? `http://${config.HOST}:${config.PORT}`).replace(/\/+$/, "");
}

export type AccessTokenClaims = {
  keyId: string;
  role: "operator" | "tenant";
  tenantId: string | null;
  scopes: readonly Scope[];
};

/** Signs a short-lived access token with the current signing key. */
export async function signAccessToken(
  deps: Deps,
  claims: AccessTokenClaims,
  ttlMs = deps.config.OAUTH_TOKEN_TTL,
): Promise<{ token: string; expiresIn: number }> {
  const { kid, key } = await currentSigningKey(deps);
  const iat = Math.floor(deps.now().getTime() / 1000);
  const expiresIn = Math.max(1, Math.floor(ttlMs / 1000));
  const token = await new SignJWT({
    scope: claims.scopes.join(" "),
    role: claims.role,
    tenant_id: claims.tenantId,
    client_id: claims.keyId,
  })
    .setProtectedHeader({ alg: SIGNING_ALG, kid, typ: TOKEN_TYPE })
    .setIssuer(issuerOf(deps.config))
    .setAudience(AUDIENCE)
    .setSubject(claims.keyId)
    .setIssuedAt(iat)
    .setExpirationTime(iat + expiresIn)
    .setJti(randomToken(16))
    .sign(key);
  return { token, expiresIn };
}

/**
 * Verifies an OAuth access token and resolves it to a principal. Refused: bad signature, any
 * algorithm but ES256 (so `alg: none` and HS256-keyed-with-the-public-key fail), unknown, revoked
 * or expired `kid`, wrong `typ`/`iss`/`aud`, expired or not-yet-valid tokens, and tokens whose API
 * key has since been revoked, has expired, lost its tenant, or does not allow the client IP.
 * Scopes are the token's, narrowed to what the key holds now.
 */
export async function verifyAccessToken(
  deps: Deps,
  token: string,
  clientIp: string | null,
): Promise<Principal> {
  let payload: Record<string, unknown>;
  try {
    const verified = await jwtVerify(
      token,
      async (header) => {
        const key = header.kid ? await verificationKey(deps, header.kid) : null;
        if (!key) throw new joseErrors.JWKSNoMatchingKey();
        return key;
      },
      {
        algorithms: [SIGNING_ALG],
        issuer: issuerOf(deps.config),
        audience: AUDIENCE,
        typ: TOKEN_TYPE,
        currentDate: deps.now(),
        clockTolerance: 5,
        requiredClaims: ["exp", "iat", "sub", "jti"],
      },
    );
    payload = verified.payload;
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw new UnauthorizedError("the access token has expired");
    if (err instanceof joseErrors.JOSEError) throw new UnauthorizedError("invalid credentials");
    throw err; // database trouble etc.: not the caller's fault
  }
  const sub = typeof payload.sub === "string" ? payload.sub : "";
  const row = await loadKey(deps, { id: sub });
  if (!row) throw new UnauthorizedError("invalid credentials");
  assertKeyUsable(row, deps.now(), clientIp);
  const key = row.key;
  const tenantClaim = payload.tenant_id ?? null;
  if (payload.role !== key.role || tenantClaim !== key.tenantId)
    throw new UnauthorizedError("invalid credentials");
  const granted = typeof payload.scope === "string" ? payload.scope.split(" ").filter(Boolean) : [];
  const held = new Set<string>(key.scopes);
  return {
    keyId: key.id,
    role: key.role,
    tenantId: key.tenantId,
    scopes: granted.filter((s) => held.has(s)) as Scope[],
    via: "jwt",
  };
}
