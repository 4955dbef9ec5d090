import { Writable } from "node:stream";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, expect, test } from "vitest";
import { auditLog } from "../../db/schema/index.ts";
import { SCOPES } from "../../src/auth/principal.ts";
import { createLogger } from "../../src/lib/logger.ts";
import { startTestApp, type TestApp, type TestResponse } from "../helpers/app.ts";
import { startReceiver } from "../helpers/receiver.ts";
import { createKey, createTenantWithKey, type TestKey } from "../helpers/security.ts";

/**
 * Runs a session of real mutations over HTTP with every log line captured (level trace), then
 * checks that each mutation wrote its audit row and that no secret the session saw — API key
 * tokens, access tokens, client secrets, whsec_ secrets, the encryption key — appears in any log
 * line or audit row.
 */

const lines: string[] = [];
const sink = new Writable({
  write(chunk, _enc, done) {
    lines.push(String(chunk));
    done();
  },
});

let t: TestApp;
let operator: TestKey;
const secrets = new Set<string>();
const mutations: { requestId: string; action: string; actorId: string; targetId?: string }[] = [];
let seq = 0;

beforeAll(async () => {
  t = await startTestApp({
    listen: true,
    workers: true,
    env: { LOG_LEVEL: "trace" },
    build: { logger: createLogger("trace", {}, sink) },
  });
  operator = await createKey(t.deps.db, { role: "operator", scopes: SCOPES });
  secrets.add(operator.token).add(t.operatorToken).add(t.deps.keyring.current.key.toString("base64"));
});
afterAll(async () => {
  await t?.close();
});

/** One request with its own request id; records the mutation it is expected to audit. */
async function call(
  method: string,
  path: string,
  opts: { token: string; actorId: string; body?: unknown; action?: string },
): Promise<TestResponse> {
  const requestId = `req-audit-${++seq}`;
  const res = await t.request(method, path, {
    token: opts.token,
    body: opts.body,
    headers: { "x-request-id": requestId },
  });
  if (opts.action && res.status < 300)
    mutations.push({ requestId, action: opts.action, actorId: opts.actorId, targetId: res.body?.id });
  return res;
}

test("a session of mutations: every one audited with who, tenant, source IP and request id; no secret anywhere", async () => {
  const op = { token: operator.token, actorId: operator.id };
  const tenant = await call("POST", "/v1/tenants", {
    ...op,
    body: { name: "Acme" },
    action: "tenant.create",
  });
  expect(tenant.status).toBe(201);
  const tenantId: string = tenant.body.id;

  const created = await call("POST", "/v1/api-keys", {
    ...op,
    body: {
      name: "acme prod",
      tenantId,
      scopes: ["endpoints:read", "endpoints:write", "keys:write", "audit:read"],
    },
    action: "api_key.create",
  });
  expect(created.status).toBe(201);
  const key: TestKey = { id: created.body.id, token: created.body.token, tenantId };
  secrets.add(key.token);
  const ten = { token: key.token, actorId: key.id };

  const rx = await startReceiver();
  const ep = await call("POST", "/v1/endpoints", {
    ...ten,
    body: { url: rx.url, headers: { authorization: "Bearer receiver-side-secret-123" } },
    action: "endpoint.create",
  });
  expect(ep.status).toBe(201);
  secrets.add(ep.body.secret).add("receiver-side-secret-123");
  const rotated = await call("POST", `/v1/endpoints/${ep.body.id}/secret/rotate`, {
    ...ten,
    body: {},
    action: "endpoint.secret.rotate",
  });
  expect(rotated.status).toBeLessThan(300);
  secrets.add(rotated.body.secret);
  const read = await call("GET", `/v1/endpoints/${ep.body.id}/secret`, ten);
  expect(read.status).toBe(200);
  await call("PATCH", `/v1/endpoints/${ep.body.id}`, {
    ...ten,
    body: { description: "d" },
    action: "endpoint.update",
  });

  // OAuth: a token, a failed attempt with a near-miss secret, and a forged bearer.
  const form = (secret: string) =>
    new URLSearchParams({
      grant_type: "client_credentials",
      client_id: key.id,
      client_secret: secret,
    }).toString();
  const tok = await t.request("POST", "/oauth/token", {
    token: null,
    headers: { "content-type": "application/x-www-form-urlencoded" },
    rawBody: form(key.token),
  });
  expect(tok.status).toBe(200);
  secrets.add(tok.body.access_token);
  const nearMiss = `${key.token.slice(0, -3)}abc`;
  secrets.add(nearMiss);
  await t.request("POST", "/oauth/token", {
    token: null,
    headers: { "content-type": "application/x-www-form-urlencoded" },
    rawBody: form(nearMiss),
  });
  await t.request("GET", "/v1/audit-log", { token: nearMiss });
  const viaJwt = await call("GET", "/v1/audit-log", { token: tok.body.access_token, actorId: key.id });
  expect(viaJwt.status).toBe(200);

  const rot = await call("POST", `/v1/api-keys/${key.id}/rotate`, {
    ...ten,
    body: { gracePeriodSeconds: 60 },
    action: "api_key.rotate",
  });
  expect(rot.status).toBeLessThan(300);
  secrets.add(rot.body.token);
  await call("POST", "/v1/oauth/signing-keys/rotate", { ...op, action: "oauth_signing_key.rotate" });
  await call("POST", `/v1/api-keys/${key.id}/revoke`, { ...op, action: "api_key.revoke" });
  await call("DELETE", `/v1/endpoints/${ep.body.id}`, { ...op, action: "endpoint.delete" });
  await rx.close();

  // Every mutation: exactly the row we expect, in the right tenant, with the socket's address.
  const rows = await t.deps.db.select().from(auditLog);
  expect(mutations.length).toBeGreaterThanOrEqual(9);
  for (const m of mutations) {
    const row = rows.find((r) => r.requestId === m.requestId && r.action === m.action);
    expect(row, `${m.action} (${m.requestId}) has no audit row`).toBeDefined();
    expect(row).toMatchObject({ actorId: m.actorId, sourceIp: "127.0.0.1" });
    if (m.action !== "tenant.create" && m.action !== "oauth_signing_key.rotate")
      expect(row?.tenantId).toBe(tenantId);
  }

  // The tenant reads only its own rows; the operator reads all of them and can filter.
  const mine = await t.request("GET", "/v1/audit-log?limit=100", { token: rot.body.token });
  const other = await createTenantWithKey(t.deps.db, ["audit:read"]);
  const theirs = await t.request("GET", "/v1/audit-log?limit=100", { token: other.token });
  expect(theirs.body.data).toEqual([]);
  if (mine.status === 200)
    expect(mine.body.data.every((r: { tenantId: string }) => r.tenantId === tenantId)).toBe(true);

  // No secret in any audit row, API answer about audits, or log line.
  const all = await t.request("GET", "/v1/audit-log?limit=100", { token: operator.token });
  expect(all.body.data.length).toBe(rows.length);
  const haystacks = {
    logs: lines.join(""),
    auditRows: JSON.stringify(rows),
    auditApi: all.text,
  };
  // The logs really were captured: a line per request, and the delivery worker's lines.
  for (const m of mutations) expect(haystacks.logs).toContain(`"requestId":"${m.requestId}"`);
  for (const [where, text] of Object.entries(haystacks)) {
    for (const s of secrets)
      expect(text.includes(s), `a secret (${s.slice(0, 8)}…) is in ${where}`).toBe(false);
    expect(text, where).not.toMatch(/sp_[a-z0-9]{16}_[A-Za-z0-9_-]{20,}/);
    expect(text, where).not.toMatch(/whsec_[A-Za-z0-9+/=]{10,}/);
    expect(text, where).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}/);
  }
});

test("audit-log filters and cursor pagination", async () => {
  const op = { token: operator.token };
  const byAction = await t.request("GET", "/v1/audit-log?action=api_key.create&limit=100", op);
  expect(byAction.status).toBe(200);
  expect(byAction.body.data.length).toBeGreaterThan(0);
  expect(byAction.body.data.every((r: { action: string }) => r.action === "api_key.create")).toBe(true);

  const byActor = await t.request("GET", `/v1/audit-log?actorId=${operator.id}&limit=100`, op);
  expect(byActor.body.data.every((r: { actorId: string }) => r.actorId === operator.id)).toBe(true);
  expect(byActor.body.data.length).toBeGreaterThan(0);

  const [one] = await t.deps.db.select().from(auditLog).where(eq(auditLog.action, "tenant.create"));
  const byTarget = await t.request("GET", `/v1/audit-log?targetType=tenant&targetId=${one?.targetId}`, op);
  expect(byTarget.body.data.map((r: { id: string }) => r.id)).toContain(one?.id);

  const future = await t.request("GET", "/v1/audit-log?since=2999-01-01T00:00:00Z", op);
  expect(future.body.data).toEqual([]);
  const past = await t.request("GET", "/v1/audit-log?until=2000-01-01T00:00:00Z", op);
  expect(past.body.data).toEqual([]);

  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page: TestResponse = await t.request(
      "GET",
      `/v1/audit-log?limit=3${cursor ? `&cursor=${cursor}` : ""}`,
      op,
    );
    seen.push(...page.body.data.map((r: { id: string }) => r.id));
    cursor = page.body.nextCursor;
  } while (cursor);
  const total = (await t.deps.db.select().from(auditLog)).length;
  expect(seen).toHaveLength(total);
  expect([...seen].sort().reverse()).toEqual(seen); // newest first, no duplicates or gaps
  expect(new Set(seen).size).toBe(total);

  const bad: [string, string][] = [
    ["?actor=key_x", "unrecognized_keys"],
    ["?since=yesterday", "invalid_format"],
    ["?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "custom"],
    ["?limit=0", "too_small"],
  ];
  for (const [qs, code] of bad) {
    const res = await t.request("GET", `/v1/audit-log${qs}`, op);
    expect({ qs, status: res.status, codes: res.body.errors.map((e: { code: string }) => e.code) }).toEqual({
      qs,
      status: 400,
      codes: [code],
    });
  }
});
