import { integer, jsonb, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { createdAt } from "./columns.ts";

/**
 * `Idempotency-Key` records. The primary key makes a concurrent duplicate wait for the first
 * request's transaction and then see its stored response: one event, never two.
 */
export const idempotencyKeys = pgTable(
  "idempotency_keys",
  {
    /** Who the key belongs to (the API key id), so two callers' keys never collide. */
    scope: text("scope").notNull(),
    key: text("key").notNull(),
    /** SHA-256 of method, path and body: the same key with another request is refused. */
    requestHash: text("request_hash").notNull(),
    responseStatus: integer("response_status").notNull(),
    responseBody: jsonb("response_body").$type<unknown>().notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.scope, t.key] })],
);
