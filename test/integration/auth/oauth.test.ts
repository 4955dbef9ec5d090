import { eq } from "drizzle-orm";
import {
  base64url,
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  importJWK,
  jwtVerify,
  SignJWT,
} from "jose";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { apiKeys, auditLog, oauthSigningKeys, tenants } from "../../../db/schema/index.ts";
import { AUDIENCE, issuerOf, signAccessToken } from "../../../src/auth/jwt.ts";
import { clearSigningKeyCache, currentSigningKey } from "../../../src/services/oauth/signing-keys.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { createKey, createTenantWithKey, type TestKey } from "../../helpers/security.ts";

let t: TestApp;
let client: TestKey & { tenantId: string };

beforeAll(async () => {
  t = await startTestApp({ workers: false, env: { OAUTH_TOKEN_TTL: "10m" } });
  client = await createTenantWithKey(t.deps.db, ["audit:read", "endpoints:read", "deliveries:read"]);
});
afterAll(async () => {
  await t?.close();
});

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const FORM = { "content-type": "application/x-www-form-urlencoded" };

async function tokenFor(key: TestKey, extra: Record<string, string> = {}) {
  const res = await t.request("POST", "/oauth/token", {
    token: null,
    headers: FORM,
    rawBody: form({
      grant_type: "client_credentials",
      client_id: key.id,
      client_secret: key.token,
      ...extra,
    }),
  });
  return res;
}

describe("POST /oauth/token", () => {
  test("form-encoded client credentials give an ES256 JWT with the documented claims", async () => {
    const before = Math.floor(Date.now() / 1000);
    const res = await tokenFor(client);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.body).toMatchObject({ token_type: "Bearer", expires_in: 600 });
    expect(res.body.scope.split(" ").sort()).toEqual(["audit:read", "deliveries:read", "endpoints:read"]);
    const header = decodeProtectedHeader(res.body.access_token);
    expect(header).toMatchObject({ alg: "ES256", typ: "at+jwt" });
    expect(header.kid).toMatch(/^sk_/);
    const claims = decodeJwt(res.body.access_token);
    expect(claims).toMatchObject({
      iss: "http://127.0.0.1:8080",
      aud: AUDIENCE,
      sub: client.id,
      role: "tenant",
      tenant_id: client.tenantId,
    });
    expect(claims.jti).toEqual(expect.any(String));
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(600);
    expect(claims.iat).toBeGreaterThanOrEqual(before - 1);
    // An independent verifier with only the published JWKS accepts it.
    const jwks = await t.request("GET", "/.well-known/jwks.json", { token: null });
    expect(jwks.status).toBe(200);
    expect(jwks.body.keys.every((k: Record<string, unknown>) => !("d" in k))).toBe(true);
    const verified = await jwtVerify(res.body.access_token, createLocalJWKSet(jwks.body), {
      issuer: "http://127.0.0.1:8080",
      audience: AUDIENCE,
      algorithms: ["ES256"],
    });
    expect(verified.payload.sub).toBe(client.id);
  });

  test("JSON bodies and HTTP Basic client authentication work too", async () => {
    const json = await t.request("POST", "/oauth/token", {
      token: null,
      body: { grant_type: "client_credentials", client_id: client.id, client_secret: client.token },
    });
    expect(json.status).toBe(200);
    const basic = Buffer.from(
      `${encodeURIComponent(client.id)}:${encodeURIComponent(client.token)}`,
    ).toString("base64");
    const viaBasic = await t.request("POST", "/oauth/token", {
      token: null,
      headers: { ...FORM, authorization: `Basic ${basic}` },
      rawBody: form({ grant_type: "client_credentials", scope: "audit:read" }),
    });
    expect(viaBasic.status).toBe(200);
    expect(viaBasic.body.scope).toBe("audit:read");
  });

  test("the token works on /v1 and carries only the requested scopes", async () => {
    const full = await tokenFor(client);
    const ok = await t.request("GET", "/v1/audit-log", { token: full.body.access_token });
    expect(ok.status).toBe(200);
    const narrow = await tokenFor(client, { scope: "endpoints:read" });
    expect(narrow.body.scope).toBe("endpoints:read");
    const denied = await t.request("GET", "/v1/audit-log", { token: narrow.body.access_token });
    expect(denied.status).toBe(403);
    expect(denied.body.detail).toBe('this operation needs the "audit:read" scope');
  });

  test("error table (RFC 6749 §5.2)", async () => {
    const revoked = await createKey(t.deps.db, {
      tenantId: client.tenantId,
      scopes: ["audit:read"],
      revokedAt: new Date(Date.now() - 1000),
    });
    const expired = await createKey(t.deps.db, {
      tenantId: client.tenantId,
      scopes: ["audit:read"],
      expiresAt: new Date(Date.now() - 1000),
    });
    const ok = { grant_type: "client_credentials", client_id: client.id, client_secret: client.token };
    const cases: {
      name: string;
      headers?: Record<string, string>;
      body: string;
      status: number;
      error: string;
    }[] = [
      {
        name: "no grant_type",
        body: form({ client_id: client.id, client_secret: client.token }),
        status: 400,
        error: "invalid_request",
      },
      {
        name: "password grant",
        body: form({ ...ok, grant_type: "password" }),
        status: 400,
        error: "unsupported_grant_type",
      },
      {
        name: "wrong secret",
        body: form({ ...ok, client_secret: `${client.token}x` }),
        status: 401,
        error: "invalid_client",
      },
      {
        name: "unknown client",
        body: form({ ...ok, client_id: "key_01JF3Z8Q4K2M6N8P0R2T4V6X8Z" }),
        status: 401,
        error: "invalid_client",
      },
      {
        name: "no secret",
        body: form({ grant_type: "client_credentials", client_id: client.id }),
        status: 401,
        error: "invalid_client",
      },
      {
        name: "revoked key",
        body: form({ ...ok, client_id: revoked.id, client_secret: revoked.token }),
        status: 401,
        error: "invalid_client",
      },
      {
        name: "expired key",
        body: form({ ...ok, client_id: expired.id, client_secret: expired.token }),
        status: 401,
        error: "invalid_client",
      },
      {
        name: "scope wider than the key",
        body: form({ ...ok, scope: "audit:read keys:write" }),
        status: 400,
        error: "invalid_scope",
      },
      { name: "unknown scope", body: form({ ...ok, scope: "root" }), status: 400, error: "invalid_scope" },
      {
        name: "operator scope on a tenant key",
        body: form({ ...ok, scope: "tenants:admin" }),
        status: 400,
        error: "invalid_scope",
      },
      {
        name: "repeated parameter",
        body: `${form(ok)}&scope=audit:read&scope=endpoints:read`,
        status: 400,
        error: "invalid_request",
      },
      {
        name: "text/plain",
        headers: { "content-type": "text/plain" },
        body: form(ok),
        status: 400,
        error: "invalid_request",
      },
      {
        name: "bad JSON",
        headers: { "content-type": "application/json" },
        body: "{",
        status: 400,
        error: "invalid_request",
      },
      {
        name: "JSON number secret",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ...ok, client_secret: 5 }),
        status: 400,
        error: "invalid_request",
      },
      {
        name: "Basic and body credentials together",
        headers: {
          ...FORM,
          authorization: `Basic ${Buffer.from(`${client.id}:${client.token}`).toString("base64")}`,
        },
        body: form(ok),
        status: 400,
        error: "invalid_request",
      },
      {
        name: "malformed Basic",
        headers: { ...FORM, authorization: "Basic !!!" },
        body: form({ grant_type: "client_credentials" }),
        status: 401,
        error: "invalid_client",
      },
    ];
    for (const c of cases) {
      const res = await t.request("POST", "/oauth/token", {
        token: null,
        headers: c.headers ?? FORM,
        rawBody: c.body,
      });
      expect({ name: c.name, status: res.status, error: res.body?.error }).toEqual({
        name: c.name,
        status: c.status,
        error: c.error,
      });
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(res.text).not.toContain(client.token);
      if (c.status === 401) expect(res.headers.get("www-authenticate")).toBe('Basic realm="signalpost"');
    }
  });

  test("unknown parameters are ignored, as RFC 6749 §3.2 requires", async () => {
    const res = await tokenFor(client, { audience: "whatever", resource: "https://x" });
    expect(res.status).toBe(200);
  });
});

describe("access token verification", () => {
  const call = (token: string) => t.request("GET", "/v1/audit-log", { token });

  async function signed(
    claims: Record<string, unknown>,
    header: Record<string, unknown> = {},
    opts: { iss?: string; aud?: string; exp?: number; sub?: string } = {},
  ): Promise<string> {
    const { kid, key } = await currentSigningKey(t.deps);
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ scope: "audit:read", role: "tenant", tenant_id: client.tenantId, ...claims })
      .setProtectedHeader({ alg: "ES256", kid, typ: "at+jwt", ...header })
      .setIssuer(opts.iss ?? issuerOf(t.deps.config))
      .setAudience(opts.aud ?? AUDIENCE)
      .setSubject(opts.sub ?? client.id)
      .setIssuedAt(now)
      .setExpirationTime(opts.exp ?? now + 300)
      .setJti("test")
      .sign(key);
  }

  test("a correctly signed token built by hand is accepted (the baseline the rejections vary)", async () => {
    expect((await call(await signed({}))).status).toBe(200);
  });

  test("rejections: expired, tampered, wrong aud/iss/typ, alg none, HS256 with the public key, unknown kid", async () => {
    const good = await signed({});
    const [h, p, s] = good.split(".") as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, "base64url").toString("utf8"));
    const tampered = `${h}.${base64url.encode(JSON.stringify({ ...payload, scope: "audit:read keys:write" }))}.${s}`;
    const { kid } = await currentSigningKey(t.deps);
    const [row] = await t.deps.db.select().from(oauthSigningKeys).where(eq(oauthSigningKeys.kid, kid));
    const pub = row?.publicJwk ?? {};
    const none = `${base64url.encode(JSON.stringify({ alg: "none", kid, typ: "at+jwt" }))}.${p}.`;
    const pubKey = await importJWK(pub, "ES256");
    if (pubKey instanceof Uint8Array) throw new Error("expected an EC public key");
    const spki = await exportSPKI(pubKey);
    const hsWith = async (secret: string) =>
      new SignJWT(payload)
        .setProtectedHeader({ alg: "HS256", kid, typ: "at+jwt" })
        .sign(new TextEncoder().encode(secret));
    const stranger = await generateKeyPair("ES256");
    const strangerJwk = await exportJWK(stranger.publicKey);
    const foreign = await new SignJWT(payload)
      .setProtectedHeader({ alg: "ES256", kid: "sk_unknown", typ: "at+jwt" })
      .sign(stranger.privateKey);
    const forgedKid = await new SignJWT(payload)
      .setProtectedHeader({ alg: "ES256", kid, typ: "at+jwt", jwk: strangerJwk })
      .sign(stranger.privateKey);
    const past = Math.floor(Date.now() / 1000) - 120;
    const expired = await signAccessToken(
      { ...t.deps, now: () => new Date(Date.now() - 3_600_000) },
      { keyId: client.id, role: "tenant", tenantId: client.tenantId, scopes: ["audit:read"] },
      60_000,
    );
    const cases: [string, string, string][] = [
      ["expired", expired.token, "the access token has expired"],
      ["expired (hand-made)", await signed({}, {}, { exp: past }), "the access token has expired"],
      ["tampered payload", tampered, "invalid credentials"],
      ["truncated signature", good.slice(0, -4), "invalid credentials"],
      ["wrong audience", await signed({}, {}, { aud: "another-api" }), "invalid credentials"],
      ["wrong issuer", await signed({}, {}, { iss: "https://evil.example" }), "invalid credentials"],
      ["wrong typ", await signed({}, { typ: "JWT" }), "invalid credentials"],
      ["no kid", await signed({}, { kid: undefined }), "invalid credentials"],
      ["alg none", none, "invalid credentials"],
      ["HS256 keyed with the public SPKI", await hsWith(spki), "invalid credentials"],
      ["HS256 keyed with the public JWK", await hsWith(JSON.stringify(pub)), "invalid credentials"],
      ["unknown kid", foreign, "invalid credentials"],
      ["known kid, foreign key and embedded jwk", forgedKid, "invalid credentials"],
      [
        "subject is not a key",
        await signed({}, {}, { sub: "key_01JF3Z8Q4K2M6N8P0R2T4V6X8Z" }),
        "invalid credentials",
      ],
      [
        "role escalated in claims",
        await signed({ role: "operator", tenant_id: null }),
        "invalid credentials",
      ],
      ["garbage", "not.a.jwt", "invalid credentials"],
    ];
    for (const [name, token, detail] of cases) {
      const res = await call(token);
      expect({ name, status: res.status, type: res.body?.type, detail: res.body?.detail }).toEqual({
        name,
        status: 401,
        type: "/problems/unauthorized",
        detail,
      });
      expect(res.headers.get("content-type")).toBe("application/problem+json");
    }
  });

  test("scopes are capped by what the key holds now", async () => {
    const k = await createKey(t.deps.db, { tenantId: client.tenantId, scopes: ["audit:read"] });
    const tok = (await tokenFor(k)).body.access_token as string;
    expect((await call(tok)).status).toBe(200);
    await t.deps.db.update(apiKeys).set({ scopes: [] }).where(eq(apiKeys.id, k.id));
    expect((await afterNotify(() => call(tok))).status).toBe(403);
  });

  test("revoking the key, expiring it or deleting its tenant kills tokens already issued", async () => {
    for (const change of ["revoke", "expire", "tenant"] as const) {
      const owner = await createTenantWithKey(t.deps.db, ["audit:read"]);
      const tok = (await tokenFor(owner)).body.access_token as string;
      expect((await call(tok)).status).toBe(200);
      const past = new Date(Date.now() - 1000);
      if (change === "revoke")
        await t.deps.db.update(apiKeys).set({ revokedAt: past }).where(eq(apiKeys.id, owner.id));
      if (change === "expire")
        await t.deps.db.update(apiKeys).set({ expiresAt: past }).where(eq(apiKeys.id, owner.id));
      if (change === "tenant")
        await t.deps.db.update(tenants).set({ deletedAt: past }).where(eq(tenants.id, owner.tenantId));
      const res = await afterNotify(() => call(tok));
      expect({ change, status: res.status }).toEqual({ change, status: 401 });
    }
  });

  test("the key's IP allowlist applies to its tokens", async () => {
    const k = await createKey(t.deps.db, { tenantId: client.tenantId, scopes: ["audit:read"] });
    const tok = (await tokenFor(k)).body.access_token as string;
    await t.deps.db
      .update(apiKeys)
      .set({ ipAllowlist: ["10.0.0.0/8"] })
      .where(eq(apiKeys.id, k.id));
    const res = await afterNotify(() => call(tok));
    expect(res.status).toBe(403);
    expect(res.body.detail).toBe("requests from this IP address are not allowed for this key");
  });
});

/**
 * These tests change key and tenant rows with plain SQL, behind the services' back: the process
 * learns of it from the invalidation trigger's NOTIFY, a few milliseconds later (not 10 s, the
 * cache TTL). Calls until the answer is no longer the cached 200, for up to 2 s.
 */
async function afterNotify<R extends { status: number }>(call: () => Promise<R>): Promise<R> {
  const deadline = Date.now() + 2_000;
  for (;;) {
    const res = await call();
    if (res.status !== 200 || Date.now() > deadline) return res;
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("signing keys", () => {
  test("two processes creating the first key at once end up with one", async () => {
    await t.deps.db.delete(oauthSigningKeys);
    const a = { ...t.deps };
    const b = { ...t.deps };
    clearSigningKeyCache(t.deps);
    const [ka, kb] = await Promise.all([currentSigningKey(a), currentSigningKey(b)]);
    expect(ka.kid).toBe(kb.kid);
    const rows = await t.deps.db.select().from(oauthSigningKeys);
    expect(rows).toHaveLength(1);
    // The private key is stored encrypted, never as a clear JWK.
    expect(rows[0]?.privateCiphertext).toMatch(/^v1\./);
    expect(JSON.stringify(rows[0])).not.toContain('"d"');
    clearSigningKeyCache(t.deps);
  });

  test("rotation keeps old tokens valid, publishes both keys, and writes an audit row", async () => {
    const before = (await tokenFor(client)).body.access_token as string;
    const oldKid = decodeProtectedHeader(before).kid;
    const tenantAdmin = await createTenantWithKey(t.deps.db, ["keys:write"]);
    const forbidden = await t.request("POST", "/v1/oauth/signing-keys/rotate", { token: tenantAdmin.token });
    expect(forbidden.status).toBe(403);

    const rot = await t.request("POST", "/v1/oauth/signing-keys/rotate");
    expect(rot.status).toBe(201);
    expect(rot.body.retired.kid).toBe(oldKid);
    expect(rot.body.kid).not.toBe(oldKid);
    const ttlPlusSkew = 10 * 60_000 + 60_000;
    expect(Date.parse(rot.body.retired.expiresAt) - Date.now()).toBeGreaterThan(ttlPlusSkew - 5000);

    const after = (await tokenFor(client)).body.access_token as string;
    expect(decodeProtectedHeader(after).kid).toBe(rot.body.kid);
    expect((await t.request("GET", "/v1/audit-log", { token: before })).status).toBe(200);
    expect((await t.request("GET", "/v1/audit-log", { token: after })).status).toBe(200);
    const jwks = await t.request("GET", "/.well-known/jwks.json", { token: null });
    expect(jwks.body.keys.map((k: { kid: string }) => k.kid)).toEqual([rot.body.kid, oldKid]);

    const [audit] = await t.deps.db
      .select()
      .from(auditLog)
      .where(eq(auditLog.action, "oauth_signing_key.rotate"));
    expect(audit).toMatchObject({
      targetType: "oauth_signing_key",
      targetId: rot.body.kid,
      actorRole: "operator",
    });
    expect(audit?.details).toEqual({ alg: "ES256", retiredKid: oldKid });

    // Once the retired key is past its expiry it is unpublished and its tokens stop verifying.
    await t.deps.db
      .update(oauthSigningKeys)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(oauthSigningKeys.kid, String(oldKid)));
    clearSigningKeyCache(t.deps);
    const res = await t.request("GET", "/v1/audit-log", { token: before });
    expect(res.status).toBe(401);
    const jwks2 = await t.request("GET", "/.well-known/jwks.json", { token: null });
    expect(jwks2.body.keys.map((k: { kid: string }) => k.kid)).toEqual([rot.body.kid]);
  });
});
