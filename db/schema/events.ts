import { index, pgTable, text } from "drizzle-orm/pg-core";
import { createdAt, ts } from "./columns.ts";
import { tenants } from "./tenants.ts";

/** A published event. `body` is the exact text every delivery sends, byte for byte. */
export const events = pgTable(
  "events",
  {
    id: text("id").primaryKey(),
    type: text("type").notNull(),
    /** null = every tenant */
    tenantId: text("tenant_id").references(() => tenants.id),
    /** Used by endpoint symbol filters; null when the event is not about one symbol. */
    symbol: text("symbol"),
    body: text("body").notNull(),
    occurredAt: ts("occurred_at").notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    // Retention prunes by age.
    index("events_created_idx").on(t.createdAt),
    // Listing and filtering by type.
    index("events_type_idx").on(t.type, t.id),
    // Tenant-scoped listing.
    index("events_tenant_idx").on(t.tenantId, t.id),
  ],
);
export type Event = typeof events.$inferSelect;
