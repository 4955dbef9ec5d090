import { createPublicKey, verify } from "node:crypto";
import { describe, expect, test } from "vitest";
import {
  ed25519PublicKey,
  generateKeyPair,
  generateSecret,
  generateSigningKey,
  sign,
  signatureHeader,
  verificationKey,
} from "../../../src/delivery/sign.ts";
import { verifyWebhook } from "../../../src/delivery/verify.ts";

const ID = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TS = 1614265330;
const BODY = '{"test": 2432232314}';
const AT = new Date(TS * 1000);

/** Verifies a `v1a,` signature with node:crypto alone, from the raw 32 bytes of a `whpk_` key. */
function verifyRaw(whpk: string, content: string, v1a: string): boolean {
  const x = Buffer.from(whpk.slice(5), "base64").toString("base64url");
  const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x }, format: "jwk" });
  return verify(null, Buffer.from(content), key, Buffer.from(v1a.slice(4), "base64"));
}

describe("v1a keys", () => {
  test("whsk_ is base64 of the 64-byte seed ‖ public key; whpk_ is base64 of the 32-byte public key", () => {
    const { secretKey, publicKey } = generateKeyPair();
    expect(secretKey).toMatch(/^whsk_[A-Za-z0-9+/]{86}==$/);
    expect(publicKey).toMatch(/^whpk_[A-Za-z0-9+/]{43}=$/);
    const sk = Buffer.from(secretKey.slice(5), "base64");
    const pk = Buffer.from(publicKey.slice(5), "base64");
    expect(sk).toHaveLength(64);
    expect(pk).toHaveLength(32);
    expect(sk.subarray(32).equals(pk)).toBe(true);
    expect(verificationKey(secretKey)).toBe(publicKey);
    expect(generateKeyPair().secretKey).not.toBe(secretKey);
  });

  test("generateSigningKey picks the key type by scheme; a whsec_ secret is its own verification key", () => {
    expect(generateSigningKey("v1")).toMatch(/^whsec_/);
    expect(generateSigningKey("v1a")).toMatch(/^whsk_/);
    const s = generateSecret();
    expect(verificationKey(s)).toBe(s);
  });

  test("a malformed whpk_ key is refused", () => {
    expect(() => ed25519PublicKey(`whpk_${Buffer.alloc(31).toString("base64")}`)).toThrow(/32 bytes/);
  });
});

describe("v1a signing and verification", () => {
  const { secretKey, publicKey } = generateKeyPair();
  const sig = sign(secretKey, ID, TS, BODY);
  const base = { secrets: [publicKey], id: ID, timestamp: String(TS), signature: sig, body: BODY, now: AT };

  test("the signature is v1a, + base64 of a 64-byte ed25519 signature, as in the spec's example header", () => {
    expect(sig).toMatch(/^v1a,[A-Za-z0-9+/]{86}==$/);
    expect(Buffer.from(sig.slice(4), "base64")).toHaveLength(64);
    expect(verifyRaw(publicKey, `${ID}.${TS}.${BODY}`, sig)).toBe(true);
  });

  test("round trip: verifyWebhook accepts it with the whpk_ key (and with the whsk_ key)", () => {
    expect(verifyWebhook(base)).toEqual({ ok: true });
    expect(verifyWebhook({ ...base, secrets: [secretKey] })).toEqual({ ok: true });
  });

  test("mixed header: v1 and v1a signatures side by side each verify with their own key", () => {
    const hmac = generateSecret();
    const header = signatureHeader([secretKey, hmac], ID, TS, BODY);
    const parts = header.split(" ");
    expect(parts[0]).toMatch(/^v1a,/);
    expect(parts[1]).toMatch(/^v1,/);
    expect(verifyWebhook({ ...base, signature: header })).toEqual({ ok: true });
    expect(verifyWebhook({ ...base, signature: header, secrets: [hmac] })).toEqual({ ok: true });
  });

  test.each([
    ["a tampered body", { body: '{"test": 2432232315}' }],
    ["a tampered timestamp", { timestamp: String(TS + 1), now: new Date((TS + 1) * 1000) }],
    ["a tampered id", { id: "msg_other" }],
    ["another key pair", { secrets: [generateKeyPair().publicKey] }],
    ["the signature sent as v1", { signature: `v1,${sig.slice(4)}` }],
    ["a truncated signature", { signature: sig.slice(0, -4) }],
    ["an HMAC secret only", { secrets: [generateSecret()] }],
  ] as const)("%s fails", (_name, change) => {
    expect(verifyWebhook({ ...base, ...change })).toEqual({ ok: false, reason: "no signature matches" });
  });

  test("an expired timestamp fails before any signature check", () => {
    expect(verifyWebhook({ ...base, now: new Date((TS + 301) * 1000) })).toEqual({
      ok: false,
      reason: "timestamp outside the 300s tolerance",
    });
  });
});
