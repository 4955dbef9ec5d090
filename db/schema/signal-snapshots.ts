import { bigserial, index, jsonb, pgTable, text } from "drizzle-orm/pg-core";
import { createdAt, ts } from "./columns.ts";

/**
 * Inbox of accepted snapshots waiting for the change detector. A row is written in the same
 * transaction as the detect job that will read it, and deleted in the same transaction that
 * applies it to `signal_states`. Draining per key in time order (not per job) makes detection
 * independent of job order, retries and concurrency.
 */
export const signalSnapshots = pgTable(
  "signal_snapshots",
  {
    /** Arrival order; breaks ties between snapshots with the same `observed_at`. */
    seq: bigserial("seq", { mode: "number" }).primaryKey(),
    batchId: text("batch_id").notNull(),
    source: text("source").notNull(),
    symbol: text("symbol").notNull(),
    kind: text("kind").notNull(),
    /** `1d`, `1h`, or `` for kinds without a timeframe */
    timeframe: text("timeframe").notNull().default(""),
    value: jsonb("value").$type<Record<string, unknown>>().notNull(),
    observedAt: ts("observed_at").notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    // The detector drains one key at a time, oldest first.
    index("signal_snapshots_key_idx").on(t.source, t.symbol, t.kind, t.timeframe, t.observedAt, t.seq),
    // A detect job finds the keys of its batch.
    index("signal_snapshots_batch_idx").on(t.batchId),
  ],
);
export type SignalSnapshotRow = typeof signalSnapshots.$inferSelect;
