import { jsonb, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { ts, updatedAt } from "./columns.ts";

/**
 * Last known value per (source, symbol, kind, timeframe), used by the change detector.
 * `emitted` is the value at the last emitted event (grade thresholds compare against it).
 */
export const signalStates = pgTable(
  "signal_states",
  {
    source: text("source").notNull(),
    symbol: text("symbol").notNull(),
    kind: text("kind").notNull(),
    /** `1d`, `1h`, or `` for kinds without a timeframe */
    timeframe: text("timeframe").notNull().default(""),
    value: jsonb("value").$type<Record<string, unknown>>().notNull(),
    emitted: jsonb("emitted").$type<Record<string, unknown>>().notNull(),
    observedAt: ts("observed_at").notNull(),
    updatedAt: updatedAt(),
  },
  (t) => [primaryKey({ columns: [t.source, t.symbol, t.kind, t.timeframe] })],
);
export type SignalState = typeof signalStates.$inferSelect;
