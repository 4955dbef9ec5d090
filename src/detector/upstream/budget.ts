import { count, sql as dsql, gt, lte } from "drizzle-orm";
import { upstreamCalls } from "../../../db/schema/index.ts";
import type { Deps } from "../../deps.ts";

const HOUR_MS = 3_600_000;
/** Serialises budget checks across processes (arbitrary constant). */
const BUDGET_LOCK = 7283910042;

/**
 * Takes one call from the shared calls-per-hour budget (a rolling hour, counted in Postgres so
 * every worker process draws from the same budget). False when the budget is spent.
 */
export async function takeUpstreamCall(deps: Deps, path: string, maxPerHour: number): Promise<boolean> {
  const now = deps.now();
  const since = new Date(now.getTime() - HOUR_MS);
  return deps.db.transaction(async (tx) => {
    await tx.execute(dsql`select pg_advisory_xact_lock(${BUDGET_LOCK})`);
    await tx.delete(upstreamCalls).where(lte(upstreamCalls.calledAt, since));
    const [row] = await tx
      .select({ n: count() })
      .from(upstreamCalls)
      .where(gt(upstreamCalls.calledAt, since));
    if ((row?.n ?? 0) >= maxPerHour) return false;
    await tx.insert(upstreamCalls).values({ path, calledAt: now });
    return true;
  });
}
