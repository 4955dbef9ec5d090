import { randomBytes } from "node:crypto";
import { sha256Hex } from "../lib/crypto.ts";

const TOKEN_RE = /^sp_([a-z0-9]{16})_([A-Za-z0-9_-]{43})$/;
const ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

/**
 * API key tokens: `sp_<16-char lookup prefix>_<32 random bytes, base64url>`. The prefix finds the
 * row; only a SHA-256 of the whole token is stored (the secret is 256 random bits, so a slow hash
 * adds nothing but latency).
 */
export function generateApiKeyToken(): { token: string; prefix: string; hash: string } {
  const bytes = randomBytes(16);
  let prefix = "";
  for (const b of bytes) prefix += ALPHABET[b % ALPHABET.length];
  const token = `sp_${prefix}_${randomBytes(32).toString("base64url")}`;
  return { token, prefix, hash: sha256Hex(token) };
}

/** The lookup prefix of a well-formed token, or null. */
export function parseApiKeyToken(token: string): { prefix: string } | null {
  const m = TOKEN_RE.exec(token);
  return m?.[1] ? { prefix: m[1] } : null;
}
