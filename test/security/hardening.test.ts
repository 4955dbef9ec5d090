import http from "node:http";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { safeEqual } from "../../src/lib/crypto.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ listen: true, workers: false, env: { MAX_BODY_BYTES: "2048" } });
});
afterAll(async () => {
  await t?.close();
});

/** A raw request, so the body can be sent chunked (no Content-Length) like a streaming client. */
function rawPost(path: string, chunks: string[], headers: Record<string, string>) {
  return new Promise<{ status: number; type: string | undefined; body: string }>((resolve, reject) => {
    const req = http.request(`${t.baseUrl}${path}`, { method: "POST", headers }, (res) => {
      let body = "";
      res.on("data", (c) => {
        body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: res.headers["content-type"], body }));
    });
    req.on("error", reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

describe("request body limit", () => {
  const big = JSON.stringify({ name: "x".repeat(4000) });
  const expected = {
    type: "/problems/payload_too_large",
    title: "Payload too large",
    status: 413,
    detail: "request bodies are limited to 2048 bytes",
  };

  test("a body over MAX_BODY_BYTES is refused with a clear 413 (Content-Length given)", async () => {
    const res = await t.request("POST", "/v1/tenants", { rawBody: big });
    expect(res.status).toBe(413);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(res.body).toMatchObject(expected);
  });

  test("… and when streamed chunked without Content-Length", async () => {
    const res = await rawPost("/v1/tenants", [big.slice(0, 1000), big.slice(1000)], {
      authorization: `Bearer ${t.operatorToken}`,
      "content-type": "application/json",
      "transfer-encoding": "chunked",
    });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject(expected);
  });

  test("… also on the public token endpoint, before any credential check", async () => {
    const res = await t.request("POST", "/oauth/token", {
      token: null,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      rawBody: `grant_type=client_credentials&x=${"a".repeat(3000)}`,
    });
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject(expected);
  });

  test("a body just under the limit is read normally", async () => {
    const res = await t.request("POST", "/v1/tenants", { body: { name: "x".repeat(150) } });
    expect(res.status).toBe(201);
  });
});

test("unknown body fields are rejected with a field-level problem (strict schemas)", async () => {
  const res = await t.request("POST", "/v1/tenants", { body: { name: "Acme", isAdmin: true } });
  expect(res.status).toBe(400);
  expect(res.body).toMatchObject({
    type: "/problems/validation_failed",
    status: 400,
    detail: "the request body is invalid",
    errors: [{ path: "body", code: "unrecognized_keys" }],
  });
  expect(res.body.errors[0].message).toContain("isAdmin");
});

test("unknown /v1 paths need credentials first, so routes cannot be enumerated anonymously", async () => {
  const anon = await t.request("GET", "/v1/no-such-thing", { token: null });
  expect(anon.status).toBe(401);
  const authed = await t.request("GET", "/v1/no-such-thing");
  expect(authed.status).toBe(404);
  expect(authed.body.type).toBe("/problems/not_found");
});

test("/docs is served under a strict CSP and anti-framing headers", async () => {
  const res = await fetch(`${t.baseUrl}/docs`);
  expect(res.status).toBe(200);
  const csp = res.headers.get("content-security-policy") ?? "";
  for (const directive of [
    "default-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "connect-src 'self'",
  ])
    expect(csp).toContain(directive);
  expect(csp).not.toMatch(/script-src[^;]*'unsafe-inline'/);
  expect(res.headers.get("x-frame-options")).toBe("DENY");
  expect(res.headers.get("referrer-policy")).toBe("no-referrer");
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
});

test("API responses carry nosniff and HSTS; request ids from clients are sanitised", async () => {
  const res = await fetch(`${t.baseUrl}/healthz`, { headers: { "x-request-id": "evil id <script>" } });
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  expect(res.headers.get("strict-transport-security")).toContain("max-age=");
  expect(res.headers.get("x-request-id")).toMatch(/^req_[0-9A-Z]{26}$/);
  const kept = await fetch(`${t.baseUrl}/healthz`, { headers: { "x-request-id": "client-id.42" } });
  expect(kept.headers.get("x-request-id")).toBe("client-id.42");
});

test("safeEqual: equal only for identical strings, whatever the lengths", () => {
  expect(safeEqual("abc", "abc")).toBe(true);
  expect(safeEqual("", "")).toBe(true);
  expect(safeEqual("abc", "abd")).toBe(false);
  expect(safeEqual("abc", "abcd")).toBe(false);
  expect(safeEqual("abc", "")).toBe(false);
  expect(safeEqual("é", "e\u0301")).toBe(false);
});
