import { sql } from "drizzle-orm";
import { index, jsonb, pgTable, text, uniqueIndex } from "drizzle-orm/pg-core";
import { createdAt, ts } from "./columns.ts";

/**
 * Keys that sign OAuth access tokens, shared by every API process. The private JWK is encrypted
 * with the operator keyring (`encKeyId` names the key). Exactly one row has `retiredAt` null: the
 * one that signs. Retired keys stay published in the JWKS (and keep verifying) until `expiresAt`,
 * which is later than the expiry of any token they signed.
 */
export const oauthSigningKeys = pgTable(
  "oauth_signing_keys",
  {
    /** The JWT `kid`. */
    kid: text("kid").primaryKey(),
    alg: text("alg").notNull(),
    publicJwk: jsonb("public_jwk").$type<Record<string, unknown>>().notNull(),
    encKeyId: text("enc_key_id").notNull(),
    privateCiphertext: text("private_ciphertext").notNull(),
    /** Set when a newer key took over signing. */
    retiredAt: ts("retired_at"),
    /** After this the key neither verifies nor appears in the JWKS. */
    expiresAt: ts("expires_at"),
    /** Set by an operator who withdraws a key at once (compromise): its tokens stop working. */
    revokedAt: ts("revoked_at"),
    createdAt: createdAt(),
  },
  (t) => [
    // The JWKS and the signer read the live keys on every cache refresh.
    index("oauth_signing_keys_live_idx").on(t.retiredAt, t.expiresAt),
    // At most one signing key at a time, even when two processes generate the first one together.
    uniqueIndex("oauth_signing_keys_current_uq").on(t.alg).where(sql`retired_at is null`),
  ],
);
export type OAuthSigningKey = typeof oauthSigningKeys.$inferSelect;
