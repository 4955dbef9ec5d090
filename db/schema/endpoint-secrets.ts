import { index, pgTable, text } from "drizzle-orm/pg-core";
import { createdAt, ts } from "./columns.ts";
import { endpoints } from "./endpoints.ts";

/**
 * Signing secrets, encrypted at rest (AES-256-GCM, `keyId` names the operator key used).
 * `scheme` says what the ciphertext holds (an HMAC secret or an ed25519 secret key).
 * The current secret has `expiresAt` null; rotated-out ones keep signing until `expiresAt`.
 */
export const endpointSecrets = pgTable(
  "endpoint_secrets",
  {
    id: text("id").primaryKey(),
    endpointId: text("endpoint_id")
      .notNull()
      .references(() => endpoints.id),
    /** `v1`: an HMAC `whsec_` secret; `v1a`: an ed25519 `whsk_` secret key. */
    scheme: text("scheme").$type<"v1" | "v1a">().notNull().default("v1"),
    keyId: text("key_id").notNull(),
    ciphertext: text("ciphertext").notNull(),
    expiresAt: ts("expires_at"),
    createdAt: createdAt(),
  },
  (t) => [
    // Every delivery loads the endpoint's active secrets.
    index("endpoint_secrets_endpoint_idx").on(t.endpointId),
  ],
);
export type EndpointSecret = typeof endpointSecrets.$inferSelect;
