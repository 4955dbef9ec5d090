import type { AddressInfo } from "node:net";
import { type ServerType, serve } from "@hono/node-server";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { createKey, createTenant } from "../../helpers/security.ts";

// Real sockets: the client address comes from the TCP connection, so these run over HTTP.
let t: TestApp;
let proxied: TestApp;
let v6: ServerType;
let v6Url: string;
let tenantId: string;

beforeAll(async () => {
  t = await startTestApp({ listen: true, workers: false });
  proxied = await startTestApp({
    listen: true,
    workers: false,
    database: t.db,
    env: { TRUST_PROXY: "true" },
  });
  v6 = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: t.app.fetch, port: 0, hostname: "::1" }, () => resolve(s));
  });
  v6Url = `http://[::1]:${(v6.address() as AddressInfo).port}`;
  tenantId = await createTenant(t.deps.db);
});
afterAll(async () => {
  await new Promise<void>((r) => v6?.close(() => r()));
  await proxied?.close();
  await t?.close();
});

const keyWith = async (ipAllowlist: string[] | null) =>
  (await createKey(t.deps.db, { tenantId, scopes: ["audit:read"], ipAllowlist })).token;

async function get(base: string, token: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}/v1/audit-log?limit=1`, {
    headers: { authorization: `Bearer ${token}`, ...headers },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

test("IPv4: the socket address is checked against the key's CIDRs", async () => {
  const cases: [string[] | null, number][] = [
    [null, 200],
    [["10.0.0.0/8"], 403],
    [["127.0.0.1/32"], 200],
    [["127.0.0.0/8"], 200],
    [["127.0.0.2/32"], 403],
    [["10.0.0.0/8", "127.0.0.1/32"], 200],
    [["::1/128"], 403],
    [["::ffff:127.0.0.1/128"], 200], // IPv4-mapped spelling of the same address
  ];
  for (const [allow, status] of cases) {
    const res = await get(t.baseUrl, await keyWith(allow));
    expect({ allow, status: res.status }).toEqual({ allow, status });
    if (status === 403)
      expect(res.body).toMatchObject({
        type: "/problems/forbidden",
        detail: "requests from this IP address are not allowed for this key",
      });
  }
});

test("IPv6: a client on ::1 matches v6 CIDRs only", async () => {
  const cases: [string[], number][] = [
    [["::1/128"], 200],
    [["::/0"], 200],
    [["2001:db8::/32"], 403],
    [["127.0.0.1/32"], 403],
    [["fe80::/10", "::1/128"], 200],
  ];
  for (const [allow, status] of cases) {
    const res = await get(v6Url, await keyWith(allow));
    expect({ allow, status: res.status }).toEqual({ allow, status });
  }
});

test("X-Forwarded-For is ignored unless TRUST_PROXY=true", async () => {
  const tenNet = await keyWith(["10.0.0.0/8"]);
  const loop = await keyWith(["127.0.0.1/32"]);
  const xff = { "x-forwarded-for": "10.1.2.3, 127.0.0.1" };
  expect((await get(t.baseUrl, tenNet, xff)).status).toBe(403);
  expect((await get(t.baseUrl, loop, xff)).status).toBe(200);
  // Behind a trusted proxy the left-most entry is the client.
  expect((await get(proxied.baseUrl, tenNet, xff)).status).toBe(200);
  expect((await get(proxied.baseUrl, loop, xff)).status).toBe(403);
  expect((await get(proxied.baseUrl, loop)).status).toBe(200);
});

test("the token endpoint applies the allowlist too", async () => {
  const k = await createKey(t.deps.db, { tenantId, scopes: ["audit:read"], ipAllowlist: ["10.0.0.0/8"] });
  const res = await fetch(`${t.baseUrl}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: k.id, client_secret: k.token }),
  });
  expect(res.status).toBe(401);
  expect(await res.json()).toEqual({
    error: "invalid_client",
    error_description: "requests from this IP address are not allowed for this key",
  });
});
