import { createPublicKey, verify } from "node:crypto";
import { and, eq } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { auditLog, endpointSecrets } from "../../../db/schema/index.ts";
import { generateSecret } from "../../../src/delivery/sign.ts";
import { verifyWebhook } from "../../../src/delivery/verify.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { type Received, startReceiver } from "../../helpers/receiver.ts";
import { createTenantWithKey, type TestKey } from "../../helpers/security.ts";

let t: TestApp;
let a: TestKey & { tenantId: string };
const closers: (() => Promise<void>)[] = [];
beforeAll(async () => {
  t = await startTestApp();
  a = await createTenantWithKey(t.deps.db);
});
afterAll(async () => {
  for (const c of closers) await c();
  await t?.close();
});

async function receiver() {
  const rx = await startReceiver();
  closers.push(rx.close);
  return rx;
}

const WHPK = /^whpk_[A-Za-z0-9+/]{43}=$/;

/** The `v1a,` signatures of a request, checked with node:crypto alone against a whpk_ key (not our verifier). */
function rawV1aVerifies(whpk: string, req: Received): boolean[] {
  const x = Buffer.from(whpk.slice("whpk_".length), "base64");
  expect(x).toHaveLength(32);
  const key = createPublicKey({
    key: { kty: "OKP", crv: "Ed25519", x: x.toString("base64url") },
    format: "jwk",
  });
  const content = Buffer.concat([
    Buffer.from(`${req.headers["webhook-id"]}.${req.headers["webhook-timestamp"]}.`),
    req.body,
  ]);
  return String(req.headers["webhook-signature"])
    .split(" ")
    .filter((s) => s.startsWith("v1a,"))
    .map((s) => verify(null, content, key, Buffer.from(s.slice(4), "base64")));
}

function ours(keys: string[], req: Received) {
  return verifyWebhook({
    secrets: keys,
    id: req.headers["webhook-id"] as string,
    timestamp: req.headers["webhook-timestamp"] as string,
    signature: req.headers["webhook-signature"] as string,
    body: req.body.toString("utf8"),
  });
}

function standardV1(secret: string, req: Received): unknown {
  return new Webhook(secret).verify(req.body.toString("utf8"), {
    "webhook-id": String(req.headers["webhook-id"]),
    "webhook-timestamp": String(req.headers["webhook-timestamp"]),
    "webhook-signature": String(req.headers["webhook-signature"]),
  });
}

async function sendTest(id: string, rx: Awaited<ReturnType<typeof receiver>>, n: number): Promise<Received> {
  const res = await t.request("POST", `/v1/endpoints/${id}/test`, { token: a.token });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  const got = await rx.waitFor(n);
  const req = got[n - 1];
  if (!req) throw new Error("no request");
  expect(req.headers["webhook-id"]).toBe(res.body.eventId);
  return req;
}

function sigs(req: Received): string[] {
  return String(req.headers["webhook-signature"]).split(" ");
}

const invalid = (path: string, message: string, code: string) => ({
  type: "/problems/validation_failed",
  title: "Validation failed",
  status: 400,
  detail: "the request body is invalid",
  instance: expect.any(String),
  requestId: expect.any(String),
  errors: [{ path, message, code }],
});

describe("v1a (ed25519) endpoints", () => {
  test("create returns the whpk_ public key only; the whsk_ key is stored encrypted; deliveries carry one v1a signature", async () => {
    const rx = await receiver();
    const res = await t.request("POST", "/v1/endpoints", {
      token: a.token,
      body: { url: rx.url, signatureScheme: "v1a" },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const publicKey: string = res.body.secret;
    expect(publicKey).toMatch(WHPK);
    expect(JSON.stringify(res.body)).not.toContain("whsk_");

    const rows = await t.deps.db
      .select()
      .from(endpointSecrets)
      .where(eq(endpointSecrets.endpointId, res.body.id));
    expect(rows).toHaveLength(1);
    const [row] = rows;
    expect(row?.scheme).toBe("v1a");
    expect(row?.ciphertext).not.toContain("whsk_");
    const stored = t.deps.keyring.decrypt(row?.keyId ?? "", row?.ciphertext ?? "");
    expect(stored).toMatch(/^whsk_/);
    expect(Buffer.from(stored.slice(5), "base64").subarray(32).toString("base64")).toBe(publicKey.slice(5));

    const read = await t.request("GET", `/v1/endpoints/${res.body.id}/secret`, { token: a.token });
    expect(read.body).toEqual({ secret: publicKey, createdAt: expect.any(String), previous: [] });

    const [audit] = await t.deps.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.targetId, res.body.id), eq(auditLog.action, "endpoint.create")));
    expect(audit?.details).toMatchObject({ signatureScheme: "v1a", secretSupplied: false });
    expect(JSON.stringify(audit)).not.toContain(stored.slice(5, 30));

    const req = await sendTest(res.body.id, rx, 1);
    expect(sigs(req)).toHaveLength(1);
    expect(sigs(req)[0]).toMatch(/^v1a,[A-Za-z0-9+/]{86}==$/);
    expect(rawV1aVerifies(publicKey, req)).toEqual([true]);
    expect(ours([publicKey], req)).toEqual({ ok: true });
    // Another key pair's public key, or an HMAC secret, does not verify it.
    const other = await t.request("POST", "/v1/endpoints", {
      token: a.token,
      body: { url: rx.url, signatureScheme: "v1a" },
    });
    expect(rawV1aVerifies(other.body.secret, req)).toEqual([false]);
    expect(ours([other.body.secret, generateSecret()], req)).toEqual({
      ok: false,
      reason: "no signature matches",
    });
  });

  test("rotation: a new key pair; two v1a signatures during grace, each verifying with its own whpk_ key", async () => {
    const rx = await receiver();
    const ep = await t.request("POST", "/v1/endpoints", {
      token: a.token,
      body: { url: rx.url, signatureScheme: "v1a" },
    });
    const oldKey: string = ep.body.secret;
    const rotated = await t.request("POST", `/v1/endpoints/${ep.body.id}/secret/rotate`, {
      token: a.token,
      body: { gracePeriodSeconds: 600 },
    });
    expect(rotated.status).toBe(200);
    expect(rotated.body).toEqual({
      secret: expect.stringMatching(WHPK),
      createdAt: expect.any(String),
      previousExpiresAt: expect.any(String),
    });
    const newKey: string = rotated.body.secret;
    expect(newKey).not.toBe(oldKey);
    const read = await t.request("GET", `/v1/endpoints/${ep.body.id}/secret`, { token: a.token });
    expect(read.body).toMatchObject({
      secret: newKey,
      previous: [{ expiresAt: rotated.body.previousExpiresAt }],
    });

    const req = await sendTest(ep.body.id, rx, 1);
    expect(sigs(req)).toHaveLength(2);
    for (const s of sigs(req)) expect(s).toMatch(/^v1a,/);
    // Current key first.
    expect(rawV1aVerifies(newKey, req)).toEqual([true, false]);
    expect(rawV1aVerifies(oldKey, req)).toEqual([false, true]);
    expect(ours([newKey], req)).toEqual({ ok: true });
    expect(ours([oldKey], req)).toEqual({ ok: true });
  });

  test("a v1 endpoint is unaffected: whsec_ secret, one v1 signature, verified by the reference library", async () => {
    const rx = await receiver();
    const ep = await t.request("POST", "/v1/endpoints", { token: a.token, body: { url: rx.url } });
    expect(ep.status).toBe(201);
    expect(ep.body.secret).toMatch(/^whsec_/);
    const [row] = await t.deps.db
      .select()
      .from(endpointSecrets)
      .where(eq(endpointSecrets.endpointId, ep.body.id));
    expect(row?.scheme).toBe("v1");
    const req = await sendTest(ep.body.id, rx, 1);
    expect(sigs(req)).toHaveLength(1);
    expect(sigs(req)[0]).toMatch(/^v1,/);
    expect(standardV1(ep.body.secret, req)).toMatchObject({ type: "webhook.test" });
    expect(ours([ep.body.secret], req)).toEqual({ ok: true });
  });

  test("PATCH signatureScheme v1 → v1a: a new ed25519 key; the old whsec_ keeps signing in grace; the same scheme again is a no-op", async () => {
    const rx = await receiver();
    const ep = await t.request("POST", "/v1/endpoints", { token: a.token, body: { url: rx.url } });
    const oldSecret: string = ep.body.secret;
    const patched = await t.request("PATCH", `/v1/endpoints/${ep.body.id}`, {
      token: a.token,
      body: { signatureScheme: "v1a" },
    });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(JSON.stringify(patched.body)).not.toMatch(/whsk_|whpk_|whsec_/);
    const read = await t.request("GET", `/v1/endpoints/${ep.body.id}/secret`, { token: a.token });
    const publicKey: string = read.body.secret;
    expect(publicKey).toMatch(WHPK);
    expect(read.body.previous).toHaveLength(1);
    const graceEnds = Date.parse(read.body.previous[0].expiresAt) - Date.now();
    expect(graceEnds).toBeGreaterThan(23 * 3600_000);
    expect(graceEnds).toBeLessThanOrEqual(24 * 3600_000);

    const req = await sendTest(ep.body.id, rx, 1);
    expect(sigs(req).map((s) => s.split(",")[0])).toEqual(["v1a", "v1"]);
    expect(rawV1aVerifies(publicKey, req)).toEqual([true]);
    expect(standardV1(oldSecret, req)).toMatchObject({ type: "webhook.test" });
    expect(ours([publicKey], req)).toEqual({ ok: true });

    const again = await t.request("PATCH", `/v1/endpoints/${ep.body.id}`, {
      token: a.token,
      body: { signatureScheme: "v1a" },
    });
    expect(again.status).toBe(200);
    const still = await t.request("GET", `/v1/endpoints/${ep.body.id}/secret`, { token: a.token });
    expect(still.body).toEqual(read.body);

    const [audit] = await t.deps.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.targetId, ep.body.id), eq(auditLog.action, "endpoint.update")));
    expect(audit?.details).toMatchObject({ fields: ["signatureScheme"], signatureScheme: "v1a" });

    // And back to v1: a new whsec_ secret.
    await t.request("PATCH", `/v1/endpoints/${ep.body.id}`, {
      token: a.token,
      body: { signatureScheme: "v1" },
    });
    const back = await t.request("GET", `/v1/endpoints/${ep.body.id}/secret`, { token: a.token });
    expect(back.body.secret).toMatch(/^whsec_/);
    expect(back.body.secret).not.toBe(oldSecret);
    expect(back.body.previous).toHaveLength(2);
  });

  test("errors: a whsec_ secret cannot go with v1a (create or rotate); an unknown scheme is rejected", async () => {
    const url = "https://partner.example.com/hooks";
    const secretMsg = "v1a keys are generated by Signalpost; a whsec_ secret can only be supplied for v1";
    const withSecret = await t.request("POST", "/v1/endpoints", {
      token: a.token,
      body: { url, signatureScheme: "v1a", secret: generateSecret() },
    });
    expect(withSecret.status).toBe(400);
    expect(withSecret.body).toEqual(invalid("body.secret", secretMsg, "custom"));

    const ep = await t.request("POST", "/v1/endpoints", {
      token: a.token,
      body: { url, signatureScheme: "v1a" },
    });
    const rotate = await t.request("POST", `/v1/endpoints/${ep.body.id}/secret/rotate`, {
      token: a.token,
      body: { secret: generateSecret() },
    });
    expect(rotate.status).toBe(400);
    expect(rotate.body).toEqual(invalid("body.secret", secretMsg, "custom"));
    const unchanged = await t.request("GET", `/v1/endpoints/${ep.body.id}/secret`, { token: a.token });
    expect(unchanged.body).toEqual({ secret: ep.body.secret, createdAt: expect.any(String), previous: [] });

    for (const [method, path] of [
      ["POST", "/v1/endpoints"],
      ["PATCH", `/v1/endpoints/${ep.body.id}`],
    ] as const) {
      const res = await t.request(method, path, { token: a.token, body: { url, signatureScheme: "v2a" } });
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual([
        { path: "body.signatureScheme", message: expect.stringContaining("v1a"), code: "invalid_value" },
      ]);
    }
  });
});
