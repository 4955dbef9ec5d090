import { verify as edVerify, type KeyObject, timingSafeEqual } from "node:crypto";
import { ed25519PublicKey, PUBLIC_KEY_PREFIX, sign, verificationKey } from "./sign.ts";

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/**
 * Verifies a Standard Webhooks request: any signature in the header matching any of the keys —
 * `v1,` against `whsec_` secrets (HMAC-SHA256), `v1a,` against `whpk_` public keys (ed25519) —
 * and a timestamp within `toleranceSeconds` of now (replay protection).
 */
export function verifyWebhook(opts: {
  /** `whsec_` secrets and/or `whpk_` public keys. */
  secrets: readonly string[];
  id: string | undefined;
  timestamp: string | undefined;
  signature: string | undefined;
  body: string;
  toleranceSeconds?: number;
  now?: Date;
}): VerifyResult {
  const { id, timestamp, signature } = opts;
  if (!id || !timestamp || !signature)
    return { ok: false, reason: "missing webhook-id, webhook-timestamp or webhook-signature" };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: "webhook-timestamp is not unix seconds" };
  const ts = Number(timestamp);
  const now = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  const tolerance = opts.toleranceSeconds ?? 300;
  if (Math.abs(now - ts) > tolerance)
    return { ok: false, reason: `timestamp outside the ${tolerance}s tolerance` };
  const parts = signature.split(" ");
  const given = parts.filter((s) => s.startsWith("v1,"));
  const givenV1a = parts.filter((s) => s.startsWith("v1a,")).map((s) => Buffer.from(s.slice(4), "base64"));
  const content = Buffer.from(`${id}.${ts}.${opts.body}`, "utf8");
  // A `whsk_` secret key verifies through its public key.
  for (const secret of opts.secrets.map(verificationKey)) {
    if (secret.startsWith(PUBLIC_KEY_PREFIX)) {
      let key: KeyObject;
      try {
        key = ed25519PublicKey(secret);
      } catch {
        return { ok: false, reason: "a whpk_ public key does not encode 32 bytes" };
      }
      for (const sig of givenV1a)
        if (sig.length === 64 && edVerify(null, content, key, sig)) return { ok: true };
      continue;
    }
    const expected = Buffer.from(sign(secret, id, ts, opts.body));
    for (const g of given) {
      const candidate = Buffer.from(g);
      if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) return { ok: true };
    }
  }
  return { ok: false, reason: "no signature matches" };
}
