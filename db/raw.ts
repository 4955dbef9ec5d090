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
 * API's CPU and 16 % of the worker's, ~1 % after.
 *
 * Statements over many rows are texts made once per row count (`perRowCount`), with the rows as a
 * VALUES list or an IN list, not one text taking arrays (`unnest($1::text[], …)`): a prepared
 * statement soon runs on a generic plan, which cannot see how many elements an array holds, and
 * for an UPDATE … FROM unnest(…) it assumed 100 and hashed the whole `deliveries` table (measured:
 * 750 µs per call against 230 µs with VALUES, on a table of ~25,000 rows; worse as it grows).
 *
 * Values go to postgres.js as they are: strings, numbers, booleans, null; times as ISO strings
 * (`::timestamptz`), JSON as its text (`::jsonb`). drizzle makes its client's timestamp parsers
 * return the text Postgres sent, so times come back as strings (`rowMapper` turns them into Dates
 * for whole-table selects).
 */
export type Statement = { text: string; params: readonly unknown[]; prepare?: boolean };

type Unsafe = (
  text: string,
  params?: unknown[],
  options?: Record<string, unknown>,
) => PromiseLike<unknown[]> & { catch: Promise<unknown>["catch"] };

/** The postgres.js client under a drizzle database (the pool) or transaction (its connection). */
function clientOf(db: DbOrTx): { unsafe: Unsafe } {
  const client = (db as unknown as { session?: { client?: { unsafe?: Unsafe } } }).session?.client;
  if (typeof client?.unsafe !== "function")
    throw new Error("db/raw: not a drizzle postgres-js database or transaction (no session.client.unsafe)");
  return client as { unsafe: Unsafe };
}

/**
 * Runs one statement in `db` (inside a transaction when `db` is one). It is sent at once, in call
 * order, so statements run without awaiting each other share a round trip and run in that order. Parameterized texts are prepared
 * per connection, as drizzle's are (createDb's `prepare`), unless `prepare: false`.
 */
export function run<T = Record<string, unknown>>(
  db: DbOrTx,
  text: string,
  params?: readonly unknown[],
): Promise<T[]>;
export function run<T = Record<string, unknown>>(db: DbOrTx, statement: Statement): Promise<T[]>;
export function run<T>(db: DbOrTx, s: string | Statement, params: readonly unknown[] = []): Promise<T[]> {
  const { text, params: values, prepare } = typeof s === "string" ? { text: s, params, prepare: true } : s;
  const q = clientOf(db).unsafe(text, [...values], prepare === false ? { unprepared: true } : undefined);
  // postgres.js sends a query once something awaits it; started here, statements go out in the
  // order of the run() calls (a lock order, or a read that must see the database before another).
  (q as { execute?: () => unknown }).execute?.();
  return q as unknown as Promise<T[]>;
}

/**
 * Row counts up to this are prepared statements (a text per count, so at most this many per
 * statement and connection); larger ones, rare (a fan-out chunk, a big batch), are planned per call.
 */
const PREPARED_ROWS_MAX = 100;

/**
 * A statement whose text depends only on a row count, made once per count: `build(n)` gets the
 * count and returns the text (with `values`/`list` for the placeholders).
 */
export function perRowCount(
  build: (n: number) => string,
): (n: number, params: readonly unknown[]) => Statement {
  const texts = new Map<number, string>();
  return (n, params) => {
    if (n > PREPARED_ROWS_MAX) return { text: build(n), params, prepare: false };
    let text = texts.get(n);
    if (text === undefined) {
      text = build(n);
      texts.set(n, text);
    }
    return { text, params };
  };
}

/**
 * `($1::t1, $2::t2), ($3::t1, $4::t2)`: n rows of `casts.length` placeholders, numbered from
 * `first`, row after row (the params are the rows flattened in that order).
 */
export function values(n: number, casts: readonly string[], first = 1): string {
  const rows: string[] = [];
  let p = first;
  for (let r = 0; r < n; r++) rows.push(`(${casts.map((c) => `$${p++}::${c}`).join(", ")})`);
  return rows.join(", ");
}

/** `$1, $2, …, $n` numbered from `first`: an IN list. */
export function list(n: number, first = 1): string {
  return Array.from({ length: n }, (_, i) => `$${first + i}`).join(", ");
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
