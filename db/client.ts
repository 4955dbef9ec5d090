import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import * as schema from "./schema/index.ts";

export type Sql = postgres.Sql;
export type Db = ReturnType<typeof createDb>["db"];
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
/** Either the pool or an open transaction: services accept both. */
export type DbOrTx = Db | Tx;

/**
 * Builds the postgres.js pool and drizzle on top of it. Call once per process. `prepare` (default
 * true): drizzle's parameterized statements become prepared statements on each connection, so
 * Postgres parses and plans each text once per connection instead of on every call (drizzle sends
 * them unnamed); turn it off behind a pooler in transaction mode (PgBouncer), which cannot keep them.
 */
export function createDb(url: string, opts: { max?: number; onnotice?: () => void; prepare?: boolean } = {}) {
  const sql = postgres(url, {
    max: opts.max ?? 10,
    onnotice: opts.onnotice ?? (() => {}),
    // Fail fast when Postgres is gone instead of queueing forever; callers map to 503.
    connect_timeout: 10,
    idle_timeout: 60,
  });
  const db = drizzle(opts.prepare === false ? sql : preparing(sql), { schema, casing: undefined });
  return { sql, db };
}

type Begin = (...args: unknown[]) => Promise<unknown>;

/**
 * The same client, with `unsafe(text, params)` (what drizzle calls) prepared whenever it has
 * parameters, inside transactions and savepoints too. Statements without parameters may hold
 * several commands and stay simple queries.
 */
function preparing(client: Sql): Sql {
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === "unsafe")
        return (text: string, params?: unknown[], options?: Record<string, unknown>) =>
          // drizzle passes `prepare: false` unless a query was given a name with .prepare().
          target.unsafe(text, params as postgres.ParameterOrJSON<never>[], {
            ...options,
            prepare: options?.prepare === true || (Array.isArray(params) && params.length > 0),
          });
      if (prop === "begin" || prop === "savepoint") {
        const original = Reflect.get(target, prop, receiver) as Begin | undefined;
        if (typeof original !== "function") return original;
        return (...args: unknown[]) => {
          const fn = args.pop() as (scoped: Sql) => unknown;
          return original.call(target, ...args, (scoped: Sql) => fn(preparing(scoped)));
        };
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
