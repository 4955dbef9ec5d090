import { base64url } from "jose";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { apiKeys, deliveries, endpointSecrets, endpoints, events, tenants } from "../../db/schema/index.ts";
import { signAccessToken } from "../../src/auth/jwt.ts";
import { SCOPES, TENANT_SCOPES } from "../../src/auth/principal.ts";
import { generateOpenApi } from "../../src/cli/openapi.ts";
import { newId } from "../../src/lib/ids.ts";
import { startTestApp, type TestApp, type TestResponse } from "../helpers/app.ts";
import {
  createKey,
  createTenantWithKey,
  type TestKey,
  unknownApiKeyToken,
  unusedId,
} from "../helpers/security.ts";

/**
 * The shared security suite: every `/v1` operation in the generated OpenAPI document (whatever
 * routes exist when it runs) is called with every kind of bad credential, and must answer with
 * exactly the documented problem. Path ids are syntactically valid ids that do not exist.
 */

type Operation = {
  method: string;
  path: string;
  params: { name: string; example: unknown }[];
  bodyRequired: boolean;
  jsonBody: boolean;
  security: unknown;
};

// biome-ignore lint/suspicious/noExplicitAny: the OpenAPI document is walked structurally
type Json = any;
const DOC: Json = JSON.parse(generateOpenApi());
const OPERATIONS: Operation[] = Object.entries<Json>(DOC.paths)
  .filter(([path]) => path.startsWith("/v1/"))
  .flatMap(([path, ops]) =>
    Object.entries<Json>(ops).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      params: (op.parameters ?? [])
        .filter((p: Json) => p.in === "path")
        .map((p: Json) => ({ name: p.name, example: p.schema?.example ?? p.example })),
      bodyRequired: op.requestBody?.required === true,
      jsonBody: Boolean(op.requestBody?.content?.["application/json"]),
      security: op.security,
    })),
  );

/**
 * Routes only an operator may call, whatever scopes a tenant key holds (DESIGN.md: tenants,
 * publishing events, the event-type catalog's writes, signal snapshots, OAuth signing keys).
 */
const OPERATOR_ONLY: [RegExp, RegExp][] = [
  [/.*/, /^\/v1\/tenants(\/|$)/],
  [/^POST$/, /^\/v1\/events(\/batch)?$/],
  [/^(POST|PUT|PATCH|DELETE)$/, /^\/v1\/event-types(\/|$)/],
  [/^(POST|PUT|PATCH|DELETE)$/, /^\/v1\/signals(\/|$)/],
  [/.*/, /^\/v1\/oauth\/signing-keys(\/|$)/],
];
/** Routes any authenticated principal may read without a scope: the public event-type catalog. */
const NO_SCOPE_NEEDED: [RegExp, RegExp][] = [[/^GET$/, /^\/v1\/event-types(\/\{name\})?$/]];
const needsNoScope = (op: Operation) =>
  NO_SCOPE_NEEDED.some(([m, p]) => m.test(op.method) && p.test(op.path));

const isOperatorOnly = (op: Operation) =>
  OPERATOR_ONLY.some(([m, p]) => m.test(op.method) && p.test(op.path));

const prefixOf = (example: unknown) =>
  typeof example === "string" ? /^([a-z]+)_/.exec(example)?.[1] : undefined;

/** A path with every parameter replaced by an id of the right shape that names nothing (or by `ids[prefix]`). */
function concretePath(op: Operation, ids: Record<string, string> = {}): string {
  return op.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const prefix = prefixOf(op.params.find((p) => p.name === name)?.example);
    if (prefix && ids[prefix]) return ids[prefix];
    if (prefix) return unusedId(prefix);
    return `zz-missing-${Date.now().toString(36)}`;
  });
}

let t: TestApp;
let operatorKey: TestKey;
const creds: Record<string, string> = {};

async function accessToken(key: TestKey): Promise<string> {
  const res = await t.request("POST", "/oauth/token", {
    token: null,
    body: { grant_type: "client_credentials", client_id: key.id, client_secret: key.token },
  });
  if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}: ${res.text}`);
  return res.body.access_token;
}

beforeAll(async () => {
  t = await startTestApp({ workers: false });
  const db = t.deps.db;
  operatorKey = await createKey(db, { role: "operator", scopes: SCOPES });
  const past = new Date(Date.now() - 60_000);
  creds.unknownKey = unknownApiKeyToken();
  creds.revoked = (await createKey(db, { role: "operator", scopes: SCOPES, revokedAt: past })).token;
  creds.expired = (await createKey(db, { role: "operator", scopes: SCOPES, expiresAt: past })).token;
  creds.ipDenied = (
    await createKey(db, { role: "operator", scopes: SCOPES, ipAllowlist: ["10.0.0.0/8"] })
  ).token;
  creds.operatorNoScopes = (await createKey(db, { role: "operator", scopes: [] })).token;
  creds.tenantNoScopes = (await createTenantWithKey(db, [])).token;
  creds.tenantAllScopes = (await createTenantWithKey(db, TENANT_SCOPES)).token;
  const expired = await signAccessToken(
    { ...t.deps, now: () => new Date(Date.now() - 3_600_000) },
    { keyId: operatorKey.id, role: "operator", tenantId: null, scopes: SCOPES },
    60_000,
  );
  creds.expiredJwt = expired.token;
  const [h, p, s] = (await accessToken(operatorKey)).split(".") as [string, string, string];
  const claims = JSON.parse(Buffer.from(p, "base64url").toString("utf8"));
  creds.tamperedJwt = `${h}.${base64url.encode(JSON.stringify({ ...claims, sub: "key_01JF3Z8Q4K2M6N8P0R2T4V6X8Z" }))}.${s}`;
  creds.validJwt = `${h}.${p}.${s}`;
});
afterAll(async () => {
  await t?.close();
});

const send = (op: Operation, headers: Record<string, string>, path = concretePath(op)) =>
  t.request(op.method, path, { token: null, headers });

type Expect = { status: number; type: string; detail?: string };
const unauthorized = (detail?: string): Expect => ({
  status: 401,
  type: "/problems/unauthorized",
  ...(detail ? { detail } : {}),
});
const forbidden = (detail?: string): Expect => ({
  status: 403,
  type: "/problems/forbidden",
  ...(detail ? { detail } : {}),
});

function mismatch(name: string, res: TestResponse, want: Expect): string | null {
  const got = {
    status: res.status,
    type: res.body?.type,
    ...(want.detail ? { detail: res.body?.detail } : {}),
  };
  const problem = res.headers.get("content-type") === "application/problem+json";
  const ok =
    got.status === want.status && got.type === want.type && (!want.detail || got.detail === want.detail);
  const wwwAuth = want.status !== 401 || res.headers.get("www-authenticate") === 'Bearer realm="signalpost"';
  if (ok && problem && wwwAuth) return null;
  return `${name}: want ${JSON.stringify(want)}, got ${JSON.stringify(got)} (${res.headers.get("content-type")}${wwwAuth ? "" : ", no WWW-Authenticate"})`;
}

test("the document lists /v1 operations, each declaring bearer security", () => {
  expect(OPERATIONS.length).toBeGreaterThan(0);
  const undeclared = OPERATIONS.filter((op) => !JSON.stringify(op.security ?? []).includes("bearer"));
  expect(undeclared.map((op) => `${op.method} ${op.path}`)).toEqual([]);
});

describe.each(OPERATIONS)("$method $path", (op) => {
  test("refuses missing, malformed, unknown, revoked, expired and forged credentials (401)", async () => {
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    const cases: [string, Record<string, string>, Expect][] = [
      ["no Authorization", {}, unauthorized("send Authorization: Bearer <api key or access token>")],
      ["'Bearer' alone", { authorization: "Bearer" }, unauthorized()],
      ["'Bearer ' and spaces", { authorization: "Bearer   " }, unauthorized()],
      ["Basic credentials", { authorization: "Basic dXNlcjpwYXNz" }, unauthorized()],
      ["two tokens", { authorization: `Bearer ${operatorKey.token} ${operatorKey.token}` }, unauthorized()],
      ["token without scheme", { authorization: operatorKey.token }, unauthorized()],
      ["malformed sp_ token", bearer("sp_short"), unauthorized("invalid credentials")],
      ["unknown sp_ key", bearer(creds.unknownKey ?? ""), unauthorized("invalid credentials")],
      [
        "right prefix, wrong secret",
        bearer(`${operatorKey.token.slice(0, -2)}xx`),
        unauthorized("invalid credentials"),
      ],
      ["revoked key", bearer(creds.revoked ?? ""), unauthorized("this API key has been revoked")],
      ["expired key", bearer(creds.expired ?? ""), unauthorized("this API key has expired")],
      ["expired JWT", bearer(creds.expiredJwt ?? ""), unauthorized("the access token has expired")],
      ["tampered JWT", bearer(creds.tamperedJwt ?? ""), unauthorized("invalid credentials")],
      ["random string", bearer("hello"), unauthorized("invalid credentials")],
    ];
    const problems: string[] = [];
    for (const [name, headers, want] of cases) {
      const m = mismatch(name, await send(op, headers), want);
      if (m) problems.push(m);
    }
    expect(problems).toEqual([]);
  });

  test("refuses a key whose IP allowlist excludes the caller, and keys without scopes (403)", async () => {
    const problems: string[] = [];
    const cases: [string, string, Expect][] = [
      [
        "IP not allowed",
        creds.ipDenied ?? "",
        forbidden("requests from this IP address are not allowed for this key"),
      ],
      ["operator key without scopes", creds.operatorNoScopes ?? "", forbidden()],
      ["tenant key without scopes", creds.tenantNoScopes ?? "", forbidden()],
    ];
    for (const [name, token, want] of cases) {
      const res = await send(op, { authorization: `Bearer ${token}` });
      if (needsNoScope(op) && name !== "IP not allowed") {
        // 200, or 404 for a made-up name: authenticated is enough here.
        if (![200, 404].includes(res.status)) problems.push(`${name}: got ${res.status} ${res.text}`);
        continue;
      }
      const m = mismatch(name, res, want);
      if (m) problems.push(m);
    }
    expect(problems).toEqual([]);
  });

  test(
    isOperatorOnly(op) ? "refuses tenant keys: operator only (403)" : "serves tenant keys (never 403 or 5xx)",
    async () => {
      const res = await send(op, { authorization: `Bearer ${creds.tenantAllScopes}` });
      if (isOperatorOnly(op)) {
        expect(mismatch("tenant key with every tenant scope", res, forbidden())).toBeNull();
      } else {
        expect(res.status, res.text).not.toBe(403);
        expect(res.status, res.text).toBeLessThan(500);
      }
    },
  );

  test("valid credentials with made-up ids never cause a 5xx, and an access token works like its key", async () => {
    const viaKey = await send(op, { authorization: `Bearer ${operatorKey.token}` });
    expect(viaKey.status, viaKey.text).toBeLessThan(500);
    const viaJwt = await send(op, { authorization: `Bearer ${creds.validJwt}` });
    expect(viaJwt.status, viaJwt.text).toBeLessThan(500);
    expect(viaJwt.status === 401 || viaJwt.status === 403, viaJwt.text).toBe(false);
  });

  // Only operations that take a JSON body get this case (no skipped placeholders for the others).
  if (op.jsonBody)
    test("rejects unknown body fields (strict schemas)", async () => {
      const statuses: string[] = [];
      for (const token of [operatorKey.token, creds.tenantAllScopes ?? ""]) {
        const res = await t.request(op.method, concretePath(op), { token, body: { unexpectedField: true } });
        statuses.push(`${res.status} ${res.text}`);
        if (res.status === 403) continue; // this principal may not call it at all; try the other
        expect(res.status, res.text).toBe(400);
        expect(res.body.type).toBe("/problems/validation_failed");
        const codes = (res.body.errors ?? []).map((e: { code?: string }) => e.code);
        expect(codes, res.text).toContain("unrecognized_keys");
        return;
      }
      throw new Error(`no principal could reach the validator: ${statuses.join(" | ")}`);
    });
});

describe("tenant isolation over every route", () => {
  test("a tenant using another tenant's ids gets 404 (never 403, never the data) and changes nothing", async () => {
    const db = t.deps.db;
    const victim = await createTenantWithKey(db, TENANT_SCOPES);
    const endpointId = newId("ep");
    const url = `https://victim-${Date.now()}.example.com/hook`;
    await db
      .insert(endpoints)
      .values({ id: endpointId, tenantId: victim.tenantId, url, description: "victim" });
    const enc = t.deps.keyring.encrypt("whsec_dmljdGltLXNlY3JldC12aWN0aW0tc2VjcmV0LXZpY3RpbQ==");
    await db.insert(endpointSecrets).values({ id: newId("whs"), endpointId, ...enc });
    const eventId = newId("evt");
    await db.insert(events).values({
      id: eventId,
      type: "webhook.test",
      tenantId: victim.tenantId,
      body: JSON.stringify({ type: "webhook.test", data: { victim: true } }),
      occurredAt: new Date(),
    });
    const deliveryId = newId("dlv");
    await db.insert(deliveries).values({
      id: deliveryId,
      eventId,
      endpointId,
      tenantId: victim.tenantId,
      eventType: "webhook.test",
      status: "dead",
    });
    const ids: Record<string, string> = {
      ep: endpointId,
      evt: eventId,
      dlv: deliveryId,
      key: victim.id,
      ten: victim.tenantId,
    };
    const snapshot = async () =>
      JSON.stringify([
        await db.select().from(endpoints),
        await db.select().from(endpointSecrets),
        await db.select().from(deliveries),
        await db.select().from(tenants),
        (await db.select().from(apiKeys)).map(({ lastUsedAt: _ignored, ...k }) => k),
      ]);
    const before = await snapshot();
    const attacker = creds.tenantAllScopes ?? "";
    const problems: string[] = [];
    let probed = 0;
    for (const op of OPERATIONS) {
      if (op.params.length === 0 || isOperatorOnly(op)) continue;
      const prefixes = op.params.map((p) => prefixOf(p.example));
      if (!prefixes.some((x) => x && ids[x])) continue; // no parameter can name a victim's resource
      const path = concretePath(op, ids);
      probed++;
      const res = await t.request(op.method, path, {
        token: attacker,
        ...(op.jsonBody ? { body: {} } : {}),
      });
      const leaked = res.text.includes(url) || res.text.includes(victim.tenantId);
      // With a body the validator may answer first (400); that reveals nothing about the victim.
      const okStatus = res.status === 404 || (op.jsonBody && op.bodyRequired && res.status === 400);
      if (!okStatus || leaked || (res.status === 404 && res.body?.type !== "/problems/not_found"))
        problems.push(
          `${op.method} ${path}: ${res.status} ${leaked ? "LEAKED " : ""}${res.text.slice(0, 200)}`,
        );
    }
    expect(problems).toEqual([]);
    expect(await snapshot()).toBe(before);
    console.log(`cross-tenant: probed ${probed} operations with another tenant's ids`);
  });
});
