import { bigserial, index, pgTable, text } from "drizzle-orm/pg-core";
import { ts } from "./columns.ts";

/**
 * One row per call made to the upstream data API, so every worker process shares one
 * calls-per-hour budget (a paid API counts credits). Rows older than an hour are pruned on write.
 */
export const upstreamCalls = pgTable(
  "upstream_calls",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    path: text("path").notNull(),
    calledAt: ts("called_at").notNull(),
  },
  (t) => [
    // Counting the calls of the last hour, and pruning older ones.
    index("upstream_calls_called_idx").on(t.calledAt),
  ],
);
