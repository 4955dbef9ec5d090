import { Webhook } from "standardwebhooks";
import { describe, expect, test } from "vitest";
import { generateSecret, secretKey, sign, signatureHeader } from "../../../src/delivery/sign.ts";
import { verifyWebhook } from "../../../src/delivery/verify.ts";

// The Standard Webhooks specification's published test vector.
const VECTOR = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};
const AT_VECTOR_TIME = new Date(VECTOR.timestamp * 1000);

describe("sign", () => {
  test("reproduces the Standard Webhooks test vector", () => {
    expect(sign(VECTOR.secret, VECTOR.id, VECTOR.timestamp, VECTOR.body)).toBe(VECTOR.signature);
  });

  test("the header carries one v1 signature per secret, space-separated, current first", () => {
    const other = generateSecret();
    const header = signatureHeader([VECTOR.secret, other], VECTOR.id, VECTOR.timestamp, VECTOR.body);
    const parts = header.split(" ");
    expect(parts).toHaveLength(2);
    expect(parts[0]).toBe(VECTOR.signature);
    expect(parts[1]).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
  });

  test("generated secrets are whsec_ + base64 of 32 random bytes", () => {
    const a = generateSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
    expect(secretKey(a)).toHaveLength(32);
    expect(generateSecret()).not.toBe(a);
  });

  test("signs the UTF-8 bytes of the body (a third-party verifier agrees on non-ASCII)", () => {
    const body = JSON.stringify({ s: "é 🚀 \u2028 \u2029" });
    const secret = generateSecret();
    const ts = Math.floor(Date.now() / 1000);
    const headers = {
      "webhook-id": "evt_1",
      "webhook-timestamp": String(ts),
      "webhook-signature": sign(secret, "evt_1", ts, body),
    };
    expect(new Webhook(secret).verify(body, headers)).toEqual({ s: "é 🚀 \u2028 \u2029" });
  });
});

describe("verifyWebhook", () => {
  const base = {
    secrets: [VECTOR.secret],
    id: VECTOR.id,
    timestamp: String(VECTOR.timestamp),
    signature: VECTOR.signature,
    body: VECTOR.body,
    now: AT_VECTOR_TIME,
  };

  test("accepts the test vector", () => {
    expect(verifyWebhook(base)).toEqual({ ok: true });
  });

  test("accepts when any listed signature matches any secret (rotation)", () => {
    const old = generateSecret();
    expect(
      verifyWebhook({ ...base, secrets: [old, VECTOR.secret], signature: `v1,AAAA ${VECTOR.signature}` }),
    ).toEqual({ ok: true });
  });

  test.each([
    ["a tampered body", { body: '{"test": 2432232315}' }, "no signature matches"],
    ["another id", { id: "msg_other" }, "no signature matches"],
    ["another timestamp", { timestamp: String(VECTOR.timestamp + 1) }, "no signature matches"],
    [
      "a wrong secret",
      { secrets: ["whsec_" + Buffer.alloc(32, 1).toString("base64")] },
      "no signature matches",
    ],
    ["a v1a-only header", { signature: VECTOR.signature.replace("v1,", "v1a,") }, "no signature matches"],
    ["a truncated signature", { signature: VECTOR.signature.slice(0, -2) }, "no signature matches"],
    ["no signature header", { signature: undefined }, "missing webhook-id"],
    ["no id", { id: undefined }, "missing webhook-id"],
    ["a non-numeric timestamp", { timestamp: "1614265330.5" }, "not unix seconds"],
    ["a timestamp 301 s old", { now: new Date((VECTOR.timestamp + 301) * 1000) }, "tolerance"],
    ["a timestamp 301 s ahead", { now: new Date((VECTOR.timestamp - 301) * 1000) }, "tolerance"],
  ])("rejects %s", (_name, change, reason) => {
    const r = verifyWebhook({ ...base, ...change });
    expect(r.ok).toBe(false);
    expect(r.ok ? "" : r.reason).toContain(reason);
  });

  test("accepts a timestamp exactly at the tolerance edge", () => {
    expect(verifyWebhook({ ...base, now: new Date((VECTOR.timestamp + 300) * 1000) })).toEqual({ ok: true });
  });
});
