import { boolean, index, integer, jsonb, pgTable, text } from "drizzle-orm/pg-core";
import { ts } from "./columns.ts";
import { deliveries } from "./deliveries.ts";

export type AttemptOutcome = "succeeded" | "failed" | "blocked";
export type AttemptTrigger = "scheduled" | "manual";

/** Append-only: one row per HTTP attempt (or blocked attempt). */
export const attempts = pgTable(
  "attempts",
  {
    id: text("id").primaryKey(),
    deliveryId: text("delivery_id")
      .notNull()
      .references(() => deliveries.id),
    tenantId: text("tenant_id").notNull(),
    endpointId: text("endpoint_id").notNull(),
    number: integer("number").notNull(),
    trigger: text("trigger").$type<AttemptTrigger>().notNull(),
    outcome: text("outcome").$type<AttemptOutcome>().notNull(),
    url: text("url").notNull(),
    startedAt: ts("started_at").notNull(),
    durationMs: integer("duration_ms").notNull(),
    requestHeaders: jsonb("request_headers").$type<Record<string, string>>().notNull(),
    statusCode: integer("status_code"),
    /** `timeout`, `connection_refused`, `dns`, `reset`, `tls`, `redirect`, `blocked`, `http_error`, ... */
    errorClass: text("error_class"),
    errorMessage: text("error_message"),
    responseHeaders: jsonb("response_headers").$type<Record<string, string>>(),
    responseBody: text("response_body"),
    responseTruncated: boolean("response_truncated").notNull().default(false),
  },
  (t) => [
    // A delivery's attempts in order.
    index("attempts_delivery_idx").on(t.deliveryId, t.number),
    // Endpoint stats and retention by time.
    index("attempts_endpoint_time_idx").on(t.endpointId, t.startedAt),
  ],
);
export type Attempt = typeof attempts.$inferSelect;
