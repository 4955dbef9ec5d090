import { boolean, doublePrecision, integer, pgTable, text } from "drizzle-orm/pg-core";
import { updatedAt } from "./columns.ts";

/**
 * Shared rate-limit state (GCRA), one row per bucket (`key:<id>`, `tenant:<id>`), so every API
 * process enforces the same budget. Each request updates its rows with one upsert, or spends a
 * unit its process took earlier (consumeBuckets' `want`).
 */
export const rateLimitBuckets = pgTable("rate_limit_buckets", {
  bucket: text("bucket").primaryKey(),
  /** Theoretical arrival time, epoch milliseconds: the bucket is full again at this instant. */
  tat: doublePrecision("tat").notNull(),
  /** Milliseconds between requests at the sustained rate (1000 / rate). */
  intervalMs: doublePrecision("interval_ms").notNull(),
  /** Requests that may arrive at once when the bucket is full. */
  burst: integer("burst").notNull(),
  /** Whether the last request that touched this bucket was let through. */
  allowed: boolean("allowed").notNull(),
  /** Units the last request took: a process may take several at once and spend them locally. */
  granted: integer("granted").notNull().default(1),
  updatedAt: updatedAt(),
});
