import { z } from "@hono/zod-openapi";
import type { SignalState } from "../../../db/schema/index.ts";
import { SnapshotSchema, SourceSchema, SymbolSchema } from "../../detector/snapshot.ts";

/** Most snapshots accepted in one `PUT /v1/signals`. */
export const MAX_SNAPSHOTS_PER_BATCH = 1000;

export const PutSignalsBody = z
  .strictObject({
    source: SourceSchema.default("api").openapi({
      description: "Who observed these values; state is kept per source. Default `api`.",
    }),
    snapshots: z.array(SnapshotSchema).min(1).max(MAX_SNAPSHOTS_PER_BATCH),
  })
  .openapi("PutSignalsRequest", {
    example: {
      source: "tokenmetrics",
      snapshots: [
        {
          symbol: "BTC",
          kind: "trading_signal",
          timeframe: "1d",
          observedAt: "2025-04-10T00:00:00Z",
          value: "bullish",
        },
        { symbol: "BTC", kind: "tm_grade", observedAt: "2025-04-10T00:00:00Z", score: 72.41, label: "Buy" },
      ],
    },
  });

export const PutSignalsResponse = z
  .object({
    batchId: z.string().openapi({ example: "snb_01JF3Z8Q4K2M6N8P0R2T4V6X8Z" }),
    accepted: z.number().int().openapi({ example: 2 }),
  })
  .openapi("PutSignalsResponse");

export const SymbolParam = z.object({
  symbol: SymbolSchema.openapi({ param: { name: "symbol", in: "path" }, example: "BTC" }),
});

const StateValueSchema = z.record(z.string(), z.unknown()).openapi({
  description: "`{value, score?}` for trading signals; `{score, label, components?}` for grades",
});

export const SignalStateSchema = z
  .object({
    source: z.string(),
    kind: z.string().openapi({ example: "trading_signal" }),
    timeframe: z.enum(["1d", "1h"]).nullable().openapi({ description: "null for grades" }),
    current: StateValueSchema,
    lastEmitted: StateValueSchema.openapi({
      description: "The value carried by the last event (or the baseline); grade thresholds compare with it",
    }),
    observedAt: z.string().openapi({ example: "2025-04-10T00:00:00.000Z" }),
    updatedAt: z.string(),
  })
  .openapi("SignalState");

export const SymbolStateResponse = z
  .object({ symbol: z.string().openapi({ example: "BTC" }), states: z.array(SignalStateSchema) })
  .openapi("SymbolSignalState");

export function toSignalState(row: SignalState): z.infer<typeof SignalStateSchema> {
  return {
    source: row.source,
    kind: row.kind,
    timeframe: row.timeframe === "1d" || row.timeframe === "1h" ? row.timeframe : null,
    current: row.value,
    lastEmitted: row.emitted,
    observedAt: row.observedAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
