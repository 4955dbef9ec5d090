import { Webhook as StandardWebhook } from "standardwebhooks";
import { Webhook as SvixWebhook } from "svix";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { endpointSecrets } from "../../../db/schema/index.ts";
import { generateSecret } from "../../../src/delivery/sign.ts";
import { verifyWebhook } from "../../../src/delivery/verify.ts";
import { newId } from "../../../src/lib/ids.ts";
import { startTestApp, type TestApp } from "../../helpers/app.ts";
import { attemptsOf, createEndpoint, publish, settledDelivery } from "../../helpers/fixtures.ts";
import { type Received, startReceiver } from "../../helpers/receiver.ts";

let t: TestApp;
const closers: (() => Promise<void>)[] = [];
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  for (const c of closers) await c();
  await t?.close();
});

async function receiver(...args: Parameters<typeof startReceiver>) {
  const rx = await startReceiver(...args);
  closers.push(rx.close);
  return rx;
}

function webhookHeaders(r: Received): Record<string, string> {
  return {
    "webhook-id": String(r.headers["webhook-id"]),
    "webhook-timestamp": String(r.headers["webhook-timestamp"]),
    "webhook-signature": String(r.headers["webhook-signature"]),
  };
}

/** Three independent verifiers must accept the request as received (raw bytes). */
function expectVerified(r: Received, secrets: string[]) {
  const raw = r.body.toString("utf8");
  for (const secret of secrets) {
    expect(() => new StandardWebhook(secret).verify(raw, webhookHeaders(r))).not.toThrow();
    expect(() => new SvixWebhook(secret).verify(raw, webhookHeaders(r))).not.toThrow();
    expect(
      verifyWebhook({
        secrets: [secret],
        id: r.headers["webhook-id"] as string,
        timestamp: r.headers["webhook-timestamp"] as string,
        signature: r.headers["webhook-signature"] as string,
        body: raw,
      }),
    ).toEqual({ ok: true });
  }
}

const UNICODE = {
  emoji: "🚀📈🧪",
  accents: "crème brûlée, Zürich, São Paulo, Ελληνικά",
  separators: "line\u2028separator\u2029paragraph",
  cjk: "日本語",
  escapes: 'quote " backslash \\ tab \t nul-free',
};

describe("a delivery, as the receiver sees it", () => {
  test("verified by standardwebhooks, svix and our verifier; the same bytes and webhook-id on every attempt", async () => {
    const rx = await receiver((_r, i) => (i < 2 ? { status: 500 } : { status: 204 }));
    // The first gap is > 1 s so the attempts fall in different unix seconds.
    const ep = await createEndpoint(t, { url: rx.url, retrySchedule: [1_100, 50] });
    const ev = await publish(t, "webhook.test", UNICODE, { tenantId: ep.tenantId });
    const reqs = await rx.waitFor(3);
    const delivery = await settledDelivery(t, ev.id, ep.id);
    expect(delivery.status).toBe("succeeded");

    const stored = Buffer.from(ev.body, "utf8");
    // U+2028 and U+2029 travel raw (JSON.stringify does not escape them): E2 80 A8 / E2 80 A9.
    expect(stored.includes(Buffer.from([0xe2, 0x80, 0xa8]))).toBe(true);
    expect(stored.includes(Buffer.from([0xe2, 0x80, 0xa9]))).toBe(true);
    expect(stored.length).toBeGreaterThan(ev.body.length);
    for (const r of reqs) {
      expect(r.method).toBe("POST");
      expect(r.url).toBe("/hook");
      expect(r.body.equals(stored)).toBe(true);
      expect(r.headers["content-length"]).toBe(String(stored.length));
      expect(r.headers["content-type"]).toBe("application/json");
      expect(r.headers["webhook-id"]).toBe(ev.id);
      expect(String(r.headers["user-agent"])).toMatch(/^Signalpost-Webhooks\//);
      expectVerified(r, [ep.secret]);
      expect(JSON.parse(r.body.toString("utf8"))).toEqual({
        type: "webhook.test",
        timestamp: ev.occurredAt.toISOString(),
        data: UNICODE,
      });
    }
    // webhook-timestamp is the time of each attempt, not of the event.
    const ts = reqs.map((r) => Number(r.headers["webhook-timestamp"]));
    expect(ts[1]).toBeGreaterThan(ts[0] as number);
    expect(ts[2]).toBeGreaterThanOrEqual(ts[1] as number);
    const atts = await attemptsOf(t, delivery.id);
    expect(atts.map((a) => a.statusCode)).toEqual([500, 500, 204]);
    atts.forEach((a, i) => {
      expect(a.requestHeaders["webhook-timestamp"]).toBe(String(Math.floor(a.startedAt.getTime() / 1000)));
      expect(a.requestHeaders["webhook-timestamp"]).toBe(reqs[i]?.headers["webhook-timestamp"]);
      expect(a.requestHeaders["webhook-signature"]).toBe(reqs[i]?.headers["webhook-signature"]);
    });
  });

  test("two endpoints get the same webhook-id, each signed with its own secret", async () => {
    const a = await receiver();
    const b = await receiver();
    const epA = await createEndpoint(t, { url: a.url });
    const epB = await createEndpoint(t, { url: b.url, tenantId: epA.tenantId });
    const ev = await publish(t, "webhook.test", { n: 1 }, { tenantId: epA.tenantId });
    const [ra] = await a.waitFor(1);
    const [rb] = await b.waitFor(1);
    if (!ra || !rb) throw new Error("no request");
    expect(ra.headers["webhook-id"]).toBe(ev.id);
    expect(rb.headers["webhook-id"]).toBe(ev.id);
    expectVerified(ra, [epA.secret]);
    expectVerified(rb, [epB.secret]);
    expect(() => new StandardWebhook(epB.secret).verify(ra.body.toString(), webhookHeaders(ra))).toThrow();
  });

  test("during a secret's grace period each request carries one signature per active secret", async () => {
    const rx = await receiver();
    const ep = await createEndpoint(t, { url: rx.url });
    const old = generateSecret();
    const expired = generateSecret();
    for (const [secret, expiresAt] of [
      [old, new Date(Date.now() + 3_600_000)],
      [expired, new Date(Date.now() - 1_000)],
    ] as const) {
      const enc = t.deps.keyring.encrypt(secret);
      await t.deps.db.insert(endpointSecrets).values({
        id: newId("whs"),
        endpointId: ep.id,
        keyId: enc.keyId,
        ciphertext: enc.ciphertext,
        expiresAt,
      });
    }
    await publish(t, "webhook.test", { n: 2 }, { tenantId: ep.tenantId });
    const [r] = await rx.waitFor(1);
    if (!r) throw new Error("no request");
    expect(String(r.headers["webhook-signature"]).split(" ")).toHaveLength(2);
    expectVerified(r, [ep.secret, old]);
    expect(() => new SvixWebhook(expired).verify(r.body.toString(), webhookHeaders(r))).toThrow();
  });

  test("custom headers are sent, but never override signing or transport headers", async () => {
    const rx = await receiver();
    const ep = await createEndpoint(t, {
      url: rx.url,
      // Inserted directly: the API refuses reserved names; the engine must drop them anyway.
      headers: {
        "X-Partner": "acme",
        authorization: "Bearer partner-token",
        "webhook-id": "msg_forged",
        "Webhook-Signature": "v1,forged",
        "content-type": "text/plain",
        "content-length": "1",
        host: "evil.example",
        "user-agent": "forged",
      },
    });
    const ev = await publish(t, "webhook.test", { n: 3 }, { tenantId: ep.tenantId });
    const [r] = await rx.waitFor(1);
    if (!r) throw new Error("no request");
    expect(r.headers["x-partner"]).toBe("acme");
    expect(r.headers.authorization).toBe("Bearer partner-token");
    expect(r.headers["webhook-id"]).toBe(ev.id);
    expect(r.headers["content-type"]).toBe("application/json");
    expect(r.headers.host).toBe(new URL(rx.url).host);
    expect(r.headers["user-agent"]).not.toBe("forged");
    expectVerified(r, [ep.secret]);
    // The attempt log masks sensitive custom header values.
    const d = await settledDelivery(t, ev.id, ep.id);
    const [att] = await attemptsOf(t, d.id);
    expect(att?.requestHeaders.authorization).toBe("********");
    expect(att?.requestHeaders["x-partner"]).toBe("acme");
  });
});
