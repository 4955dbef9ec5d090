import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import * as schema from "./schema/index.ts";

export type Sql = postgres.Sql;
export type Db = ReturnType<typeof createDb>["db"];
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
/** Either the pool or an open transaction: services accept both. */
export type DbOrTx = Db | Tx;

/** Builds the postgres.js pool and drizzle on top of it. Call once per process. */
export function createDb(url: string, opts: { max?: number; onnotice?: () => void } = {}) {
  const sql = postgres(url, {
    max: opts.max ?? 10,
    onnotice: opts.onnotice ?? (() => {}),
    // Fail fast when Postgres is gone instead of queueing forever; callers map to 503.
    connect_timeout: 10,
    idle_timeout: 60,
  });
  const db = drizzle(sql, { schema, casing: undefined });
  return { sql, db };
}
