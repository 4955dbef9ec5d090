import { timingSafeEqual } from "node:crypto";
import { sign } from "./sign.ts";

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/**
 * Verifies a Standard Webhooks request: any `v1,` signature in the header matching any of the
 * secrets, and a timestamp within `toleranceSeconds` of now (replay protection).
 */
export function verifyWebhook(opts: {
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
  const given = signature.split(" ").filter((s) => s.startsWith("v1,"));
  for (const secret of opts.secrets) {
    const expected = Buffer.from(sign(secret, id, ts, opts.body));
    for (const g of given) {
      const candidate = Buffer.from(g);
      if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) return { ok: true };
    }
  }
  return { ok: false, reason: "no signature matches" };
}
