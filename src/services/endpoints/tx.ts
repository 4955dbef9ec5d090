import type { Db, Tx } from "../../../db/client.ts";

/** deadlock_detected, serialization_failure: the transaction did nothing and may simply run again. */
const RETRYABLE = new Set(["40P01", "40001"]);

function isRetryable(err: unknown): boolean {
  let e: unknown = err;
  for (let i = 0; i < 4 && e && typeof e === "object"; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && RETRYABLE.has(code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * Runs `fn` in a transaction, again (up to 3 times) when Postgres aborts it as a deadlock victim.
 * Changes that touch an endpoint and its deliveries race with the delivery engine, which locks a
 * delivery and then its endpoint; we take locks in that order too, and retry for the rare rest.
 */
export async function transactionWithRetry<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction(fn);
    } catch (err) {
      if (attempt >= 3 || !isRetryable(err)) throw err;
      await new Promise((r) => setTimeout(r, 10 * attempt));
    }
  }
}
