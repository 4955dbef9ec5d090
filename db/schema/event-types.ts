import { jsonb, pgTable, text } from "drizzle-orm/pg-core";
import { createdAt, ts } from "./columns.ts";

/** The catalog of event types, each with a JSON Schema and an example payload. */
export const eventTypes = pgTable("event_types", {
  name: text("name").primaryKey(),
  description: text("description").notNull().default(""),
  schema: jsonb("schema").$type<Record<string, unknown>>().notNull().default({}),
  example: jsonb("example").$type<unknown>(),
  deprecatedAt: ts("deprecated_at"),
  createdAt: createdAt(),
});
export type EventType = typeof eventTypes.$inferSelect;
