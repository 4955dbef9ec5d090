import { index, integer, pgTable, text } from "drizzle-orm/pg-core";
import { createdAt, ts } from "./columns.ts";
import { endpoints } from "./endpoints.ts";

export type RecoveryStatus = "queued" | "running" | "completed" | "failed";

/**
 * A `POST /v1/endpoints/{id}/recover` run: re-sends an endpoint's dead or cancelled deliveries
 * created since a time, as a job, with its progress here.
 */
export const endpointRecoveries = pgTable(
  "endpoint_recoveries",
  {
    id: text("id").primaryKey(),
    endpointId: text("endpoint_id")
      .notNull()
      .references(() => endpoints.id),
    tenantId: text("tenant_id").notNull(),
    since: ts("since").notNull(),
    status: text("status").$type<RecoveryStatus>().notNull().default("queued"),
    /** Deliveries found to re-send (known once the run has counted them). */
    total: integer("total"),
    /** Deliveries re-enqueued so far. */
    redriven: integer("redriven").notNull().default(0),
    error: text("error"),
    requestedBy: text("requested_by").notNull(),
    createdAt: createdAt(),
    startedAt: ts("started_at"),
    finishedAt: ts("finished_at"),
  },
  (t) => [
    // An endpoint's runs, newest first.
    index("endpoint_recoveries_endpoint_idx").on(t.endpointId, t.id),
  ],
);
export type EndpointRecovery = typeof endpointRecoveries.$inferSelect;
