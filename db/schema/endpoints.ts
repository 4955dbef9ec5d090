import { boolean, index, integer, jsonb, pgTable, text } from "drizzle-orm/pg-core";
import { createdAt, ts, updatedAt } from "./columns.ts";
import { tenants } from "./tenants.ts";

/** A tenant's webhook destination. Deleted endpoints are soft-deleted so their delivery log stays. */
export const endpoints = pgTable(
  "endpoints",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    url: text("url").notNull(),
    description: text("description").notNull().default(""),
    /** null = every event type; patterns may end in `.*` */
    eventTypes: text("event_types").array(),
    /** null = every symbol */
    symbols: text("symbols").array(),
    headers: jsonb("headers").$type<Record<string, string>>().notNull().default({}),
    metadata: jsonb("metadata").$type<Record<string, string>>().notNull().default({}),
    disabled: boolean("disabled").notNull().default(false),
    disabledReason: text("disabled_reason"),
    rateLimitPerSecond: integer("rate_limit_per_second"),
    maxConcurrency: integer("max_concurrency"),
    /** Retry delays in ms overriding the default schedule. */
    retrySchedule: integer("retry_schedule").array(),
    /** Start of the current unbroken run of failures (null when the last attempt succeeded). */
    failingSince: ts("failing_since"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    deletedAt: ts("deleted_at"),
  },
  (t) => [
    // Listing a tenant's endpoints; fan-out scans live endpoints per tenant.
    index("endpoints_tenant_idx").on(t.tenantId, t.id),
  ],
);
export type Endpoint = typeof endpoints.$inferSelect;
