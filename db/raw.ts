import type { Column, Table } from "drizzle-orm";
import { getTableColumns } from "drizzle-orm";
import type { DbOrTx } from "./client.ts";

/**
 * Constant-text SQL for the hot paths (a publish, a delivery's load and recording), on the same
 * connections and transactions as drizzle.
 *
 * Why: drizzle builds a statement's text on every call. Measured on this machine (one call, warm):
 * 24 µs for a one-column select, 39 µs for a one-row insert with `returning`, 550 µs for a 20-row
 * insert into `deliveries`; in a CPU profile at 200 single-event publishes/s drizzle was 17 % of the
 * API's CPU and 16 % of the worker's. A constant text costs nothing to build, and multi-row
 * statements that take their rows as arrays (`unnest($1::text[], …)`) have ONE text whatever the
 * number of rows, so each connection prepares it once (drizzle's `values(…)` is a new text, a new
 * prepared statement, per row count).
 *
 * Values go to postgres.js as they are: strings, numbers, booleans, null, arrays of those; times
 * as ISO strings (`::timestamptz`; arrays of them as `$n::text[]::timestamptz[]`, since drizzle
 * replaces postgres.js's timestamp array serializer with one that passes values through), JSON as
 * its text (`::jsonb`). drizzle makes its client's
 * timestamp parsers return the text Postgres sent, so times come back as strings (`rowMapper`
 * turns them into Dates for whole-table selects).
 */
export type Params = readonly unknown[];

type Unsafe = (
  text: string,
  params?: unknown[],
) => PromiseLike<unknown[]> & { catch: Promise<unknown>["catch"] };

/** The postgres.js client under a drizzle database (the pool) or transaction (its connection). */
function clientOf(db: DbOrTx): { unsafe: Unsafe } {
  const client = (db as unknown as { session?: { client?: { unsafe?: Unsafe } } }).session?.client;
  if (typeof client?.unsafe !== "function")
    throw new Error("db/raw: not a drizzle postgres-js database or transaction (no session.client.unsafe)");
  return client as { unsafe: Unsafe };
}

/**
 * Runs one statement of constant text in `db` (inside a transaction when `db` is one; it is sent at
 * once, so statements run without awaiting each other share a round trip). Parameterized texts are
 * prepared per connection, as drizzle's are (createDb's `prepare`).
 */
export function run<T = Record<string, unknown>>(
  db: DbOrTx,
  text: string,
  params: Params = [],
): Promise<T[]> {
  return clientOf(db).unsafe(text, [...params]) as unknown as Promise<T[]>;
}

/**
 * A pg-boss database adapter on the same connection (for `{ db }` options of insert, deleteJob…):
 * pg-boss's statements are `$n`-parameterized single statements, which postgres.js sends as they are
 * (`fromDrizzle` parses each text and rebuilds it through drizzle's `sql`, tens of µs per call).
 */
export function bossDb(db: DbOrTx): {
  executeSql: (text: string, values?: unknown[]) => Promise<{ rows: unknown[] }>;
} {
  const client = clientOf(db);
  return {
    executeSql: async (text, values) => ({ rows: (await client.unsafe(text, values ?? [])) as unknown[] }),
  };
}

/**
 * The select list and row mapper for every column of `table` under `alias`, each column aliased
 * `<prefix><js name>`: a whole-row select without drizzle's builder, mapped as drizzle maps it
 * (timestamps to Dates, …). Built once per (table, alias, prefix) at module load.
 */
export function rowMapper<T extends Table>(
  table: T,
  alias: string,
  prefix: string,
): { columns: string; map: (row: Record<string, unknown>) => T["$inferSelect"] } {
  const cols = Object.entries(getTableColumns(table)).map(([key, col]) => ({
    key,
    as: `${prefix}${key}`,
    col: col as Column,
  }));
  const columns = cols.map((c) => `${alias}."${c.col.name}" as "${c.as}"`).join(", ");
  return {
    columns,
    map: (row) => {
      const out: Record<string, unknown> = {};
      for (const c of cols) {
        const v = row[c.as];
        out[c.key] = v === null || v === undefined ? null : c.col.mapFromDriverValue(v);
      }
      return out as T["$inferSelect"];
    },
  };
}

/** `Date | null` → ISO text for a `::timestamptz` parameter. */
export const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);
