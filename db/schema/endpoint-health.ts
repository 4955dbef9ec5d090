import { index, integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { endpoints } from "./endpoints.ts";

export type CircuitState = "closed" | "open" | "half_open";

/**
 * Per-endpoint delivery health shared by every worker process: the circuit breaker and the
 * per-second rate-limit window. One row per endpoint, created on its first failure or first
 * rate-limited attempt; no row means "closed, no window".
 */
export const endpointHealth = pgTable(
  "endpoint_health",
  {
    endpointId: text("endpoint_id")
      .primaryKey()
      .references(() => endpoints.id),
    /** Failed attempts in a row (reset by a success). */
    consecutiveFailures: integer("consecutive_failures").notNull().default(0),
    circuitState: text("circuit_state").$type<CircuitState>().notNull().default("closed"),
    /** When the circuit last opened. */
    openedAt: timestamp("opened_at", { withTimezone: true, mode: "date" }),
    /** Open: when a probe may go. Half-open: when the running probe's lease ends. */
    probeAt: timestamp("probe_at", { withTimezone: true, mode: "date" }),
    /** Start of the current one-second rate-limit window. */
    windowStart: timestamp("window_start", { withTimezone: true, mode: "date" }),
    /** Attempts admitted or refused in that window. */
    windowCount: integer("window_count").notNull().default(0),
  },
  (t) => [
    // The open-circuits gauge counts rows that are not closed.
    index("endpoint_health_open_idx").on(t.circuitState),
  ],
);
export type EndpointHealth = typeof endpointHealth.$inferSelect;
