import { pgTable, text } from "drizzle-orm/pg-core";
import { createdAt } from "./columns.ts";

/**
 * One row per encryption key id ever used by a process on this database: a fingerprint of the key
 * (HMAC-SHA256 of a fixed label, never the key), so a process started with another key under the
 * same id is refused before it writes a secret nobody else can read (verifyEncryptionKeys).
 */
export const encryptionKeys = pgTable("encryption_keys", {
  keyId: text("key_id").primaryKey(),
  fingerprint: text("fingerprint").notNull(),
  createdAt: createdAt(),
});
