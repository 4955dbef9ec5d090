import { asc, eq } from "drizzle-orm";
import { type SignalState, signalStates } from "../../../db/schema/index.ts";
import { NotFoundError } from "../../errors/index.ts";
import type { ServiceCtx } from "../context.ts";

/**
 * Current state of one symbol: a row per (source, kind, timeframe). Signal state is market data
 * published to every tenant, so tenants may read it too (with `signals:read`).
 */
export async function getSignalState(ctx: ServiceCtx, symbol: string): Promise<SignalState[]> {
  const rows = await ctx.deps.db
    .select()
    .from(signalStates)
    .where(eq(signalStates.symbol, symbol.toUpperCase()))
    .orderBy(asc(signalStates.source), asc(signalStates.kind), asc(signalStates.timeframe));
  if (rows.length === 0) throw new NotFoundError("signal state for symbol", symbol.toUpperCase());
  return rows;
}
