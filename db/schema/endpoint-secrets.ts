import { index, pgTable, text } from "drizzle-orm/pg-core";
import { createdAt, ts } from "./columns.ts";
import { endpoints } from "./endpoints.ts";

/**
 * Signing secrets, encrypted at rest (AES-256-GCM, `keyId` names the operator key used).
 * The current secret has `expiresAt` null; rotated-out ones keep signing until `expiresAt`.
 */
export const endpointSecrets = pgTable(
  "endpoint_secrets",
  {
    id: text("id").primaryKey(),
    endpointId: text("endpoint_id")
      .notNull()
      .references(() => endpoints.id),
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
