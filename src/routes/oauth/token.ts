import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { issueToken, OAuthError, type TokenRequest } from "../../services/oauth/issue-token.ts";
import type { AppEnv } from "../env.ts";
import { OAuthErrorSchema, TokenRequestBody, TokenResponse } from "./schema.ts";

const oauthError = (description: string) => ({
  description,
  content: { "application/json": { schema: OAuthErrorSchema } },
});

const route = createRoute({
  method: "post",
  path: "/oauth/token",
  tags: ["oauth"],
  summary: "Exchange client credentials for an access token",
  description:
    "OAuth 2.0 client credentials (RFC 6749 §4.4). `client_id` is an API key id, `client_secret` that key's token, sent as HTTP Basic or in the body (form-encoded or JSON). Returns a short-lived ES256 JWT usable as `Authorization: Bearer` on every `/v1` route. Per RFC 6749, unknown parameters are ignored.",
  request: {
    body: {
      required: true,
      content: {
        "application/x-www-form-urlencoded": { schema: TokenRequestBody },
        "application/json": { schema: TokenRequestBody },
      },
    },
  },
  responses: {
    200: { description: "An access token", content: { "application/json": { schema: TokenResponse } } },
    400: oauthError("invalid_request, unsupported_grant_type or invalid_scope"),
    401: oauthError("invalid_client: unknown client, wrong secret, revoked/expired key, IP not allowed"),
  },
});

/** RFC 6749 §5.1: token responses must not be cached. */
const NO_STORE = { "cache-control": "no-store", pragma: "no-cache" };

export function registerToken(app: OpenAPIHono<AppEnv>): void {
  // Registered for the document only: the handler parses the body itself so that every failure is
  // an RFC 6749 error object rather than problem+json.
  app.openAPIRegistry.registerPath(route);
  app.post("/oauth/token", async (c) => {
    try {
      const req = await readTokenRequest(c);
      const grant = await issueToken(c.get("deps"), req);
      return c.json(
        {
          access_token: grant.accessToken,
          token_type: "Bearer",
          expires_in: grant.expiresIn,
          scope: grant.scope,
        },
        200,
        NO_STORE,
      );
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      const headers: Record<string, string> = { ...NO_STORE };
      if (err.status === 401) headers["www-authenticate"] = 'Basic realm="signalpost"';
      return c.json({ error: err.error, error_description: err.message }, err.status, headers);
    }
  });
}

async function readTokenRequest(c: Context<AppEnv>): Promise<TokenRequest> {
  const params = await readParams(c);
  const basic = readBasic(c.req.header("authorization"));
  if (basic && (params.client_id !== undefined || params.client_secret !== undefined))
    throw new OAuthError("invalid_request", "use one client authentication method, not two");
  return {
    grantType: params.grant_type,
    clientId: basic?.id ?? params.client_id,
    clientSecret: basic?.secret ?? params.client_secret,
    scope: params.scope,
    clientIp: c.get("clientIp"),
  };
}

const KNOWN = ["grant_type", "client_id", "client_secret", "scope"] as const;
type Params = Partial<Record<(typeof KNOWN)[number], string>>;

async function readParams(c: Context<AppEnv>): Promise<Params> {
  const type = (c.req.header("content-type") ?? "").split(";")[0]?.trim().toLowerCase();
  const out: Params = {};
  if (type === "application/x-www-form-urlencoded") {
    const form = new URLSearchParams(await c.req.text());
    for (const k of KNOWN) {
      const all = form.getAll(k);
      if (all.length > 1) throw new OAuthError("invalid_request", `${k} must not be repeated`);
      if (all[0] !== undefined && all[0] !== "") out[k] = all[0];
    }
    return out;
  }
  if (type === "application/json") {
    let body: unknown;
    try {
      body = JSON.parse(await c.req.text());
    } catch {
      throw new OAuthError("invalid_request", "the body is not valid JSON");
    }
    if (typeof body !== "object" || body === null || Array.isArray(body))
      throw new OAuthError("invalid_request", "the body must be a JSON object");
    for (const k of KNOWN) {
      const v = (body as Record<string, unknown>)[k];
      if (v === undefined || v === null || v === "") continue;
      if (typeof v !== "string") throw new OAuthError("invalid_request", `${k} must be a string`);
      out[k] = v;
    }
    return out;
  }
  throw new OAuthError(
    "invalid_request",
    "send application/x-www-form-urlencoded (or application/json) with grant_type=client_credentials",
  );
}

/** `Authorization: Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1). */
function readBasic(header: string | undefined): { id: string; secret: string } | null {
  const m = header ? /^Basic[ \t]+([A-Za-z0-9+/=]+)[ \t]*$/i.exec(header) : null;
  if (!header) return null;
  if (!m?.[1]) throw new OAuthError("invalid_client", "malformed Authorization header");
  const decoded = Buffer.from(m[1], "base64").toString("utf8");
  const i = decoded.indexOf(":");
  if (i < 0) throw new OAuthError("invalid_client", "malformed Basic credentials");
  try {
    return { id: decodeURIComponent(decoded.slice(0, i)), secret: decodeURIComponent(decoded.slice(i + 1)) };
  } catch {
    throw new OAuthError("invalid_client", "malformed Basic credentials");
  }
}
