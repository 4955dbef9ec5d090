import { sql } from "drizzle-orm";
import { index, integer, pgTable, text, uniqueIndex } from "drizzle-orm/pg-core";
import { createdAt, ts, updatedAt } from "./columns.ts";
import { endpoints } from "./endpoints.ts";
import { events } from "./events.ts";

export type DeliveryStatus = "pending" | "succeeded" | "dead" | "cancelled";

/** One per (event, endpoint). Its attempts are in `attempts`. */
export const deliveries = pgTable(
  "deliveries",
  {
    id: text("id").primaryKey(),
    eventId: text("event_id")
      .notNull()
      .references(() => events.id),
    endpointId: text("endpoint_id")
      .notNull()
      .references(() => endpoints.id),
    tenantId: text("tenant_id").notNull(),
    eventType: text("event_type").notNull(),
    status: text("status").$type<DeliveryStatus>().notNull().default("pending"),
    attemptCount: integer("attempt_count").notNull().default(0),
    /** `attemptCount` when the current retry cycle began (a manual retry or redrive starts a new one). */
    cycleStart: integer("cycle_start").notNull().default(0),
    nextAttemptAt: ts("next_attempt_at"),
    lastAttemptAt: ts("last_attempt_at"),
    lastStatusCode: integer("last_status_code"),
    lastError: text("last_error"),
    /** Bumped on every (re)scheduling; a job carrying an older generation is stale and does nothing. */
    generation: integer("generation").notNull().default(0),
    completedAt: ts("completed_at"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    // Exactly one delivery per event and endpoint, whatever retries the fan-out job gets.
    uniqueIndex("deliveries_event_endpoint_uq").on(t.eventId, t.endpointId),
    // Tenant listings, newest first, filtered by status.
    index("deliveries_tenant_idx").on(t.tenantId, t.status, t.id),
    // Per-endpoint listings, cancelling pending work, recover.
    index("deliveries_endpoint_idx").on(t.endpointId, t.status, t.id),
    // The maintenance sweeper looks for pending deliveries whose next attempt is overdue.
    index("deliveries_pending_due_idx").on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
  ],
);
export type Delivery = typeof deliveries.$inferSelect;
