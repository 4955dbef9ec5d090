import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { inCauses } from "../src/lib/pg-errors.ts";

export type Sql = postgres.Sql;
export type Db = ReturnType<typeof createDb>["db"];
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
/** Either the pool or an open transaction: services accept both. */
export type DbOrTx = Db | Tx;

/**
 * Builds the postgres.js pool and drizzle on top of it. Call once per process.
 *
 * `prepare` (default true): drizzle's parameterized statements become prepared statements on each
 * connection, so Postgres parses and plans each text once per connection instead of on every call
 * (drizzle sends them unnamed); turn it off behind a pooler in transaction mode (PgBouncer before
 * 1.21), which cannot keep them.
 *
 * drizzle's transactions are pipelined: BEGIN goes out with the transaction's first statements
 * instead of in a round trip of its own (postgres.js `begin` waits for BEGIN's answer). On this
 * kind of machine each round trip costs both processes ~0.1 ms of CPU in socket writes and
 * wake-ups, and a publish or an attempt batch is a transaction of three to five of them.
 */
export function createDb(url: string, opts: { max?: number; onnotice?: () => void; prepare?: boolean } = {}) {
  const sql = postgres(url, {
    max: opts.max ?? 10,
    onnotice: opts.onnotice ?? (() => {}),
    // Fail fast when Postgres is gone instead of queueing forever; callers map to 503.
    connect_timeout: 10,
    idle_timeout: 60,
    // postgres.js's own tagged-template queries (prepared by default) follow the same setting.
    prepare: opts.prepare !== false,
  });
  // No `schema`: nothing uses drizzle's relational queries (`db.query.*`), and with a schema every
  // transaction object builds a query builder per table (~8 MB/s of garbage at 200 publishes/s).
  const db = drizzle(forDrizzle(sql, opts.prepare !== false), { casing: undefined });
  return { sql, db };
}

type Unsafe = (
  text: string,
  params?: unknown[],
  options?: Record<string, unknown>,
) => postgres.PendingQuery<postgres.Row[]>;

/**
 * What drizzle calls on its client: `unsafe(text, params)` (prepared whenever it has parameters,
 * when `prepare`; statements without parameters may hold several commands and stay simple
 * queries) and `begin(fn)` (pipelinedTransaction).
 */
function forDrizzle(client: Sql, prepare: boolean): Sql {
  const unsafe = preparedUnsafe(client, prepare);
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === "unsafe") return unsafe;
      if (prop === "begin") return (...args: unknown[]) => pipelinedTransaction(target, prepare, args);
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

function preparedUnsafe(client: Pick<Sql, "unsafe">, prepare: boolean): Unsafe {
  return (text, params, options) => {
    const { unprepared, ...rest } = options ?? {};
    return client.unsafe(text, params as postgres.ParameterOrJSON<never>[], {
      ...rest,
      // drizzle passes `prepare: false` unless a query was given a name with .prepare();
      // `unprepared` is db/raw.ts's way to keep a one-off text (a rare row count) unprepared.
      prepare:
        unprepared !== true &&
        (rest.prepare === true || (prepare && Array.isArray(params) && params.length > 0)),
    });
  };
}

/**
 * `sql.begin([mode,] fn)` for drizzle, on a reserved connection: BEGIN is sent without waiting for
 * its answer, so it shares a write (and Postgres a wake-up) with the first statements of `fn`.
 * Same contract as postgres.js: COMMIT when `fn` resolves, ROLLBACK when it throws (its error is
 * rethrown), and an error when Postgres answers COMMIT with ROLLBACK (a statement failed though
 * `fn` swallowed it: the first such error is thrown). Savepoints nest.
 */
async function pipelinedTransaction(client: Sql, prepare: boolean, args: unknown[]): Promise<unknown> {
  const fn = args.pop() as (tx: Sql) => unknown;
  const mode = typeof args[0] === "string" ? args[0].replace(/[^a-z ]/gi, "") : "";
  const conn = await client.reserve();
  /** The first statement of this transaction that failed, if any. */
  const first: { failure: { error: unknown } | null } = { failure: null };
  const unsafe = preparedUnsafe(conn, prepare);
  const track: Unsafe = (text, params, options) => {
    const q = unsafe(text, params, options);
    q.catch((error: unknown) => {
      first.failure ??= { error };
    });
    return q;
  };
  let savepoints = 0;
  const scoped = new Proxy(conn, {
    get(target, prop, receiver) {
      if (prop === "unsafe") return track;
      if (prop === "savepoint")
        return async (...a: unknown[]) => {
          const inner = a.pop() as (tx: Sql) => unknown;
          const name = `s${++savepoints}`;
          const before = first.failure;
          await conn.unsafe(`savepoint ${name}`);
          try {
            const result = await settle(inner(scoped));
            await conn.unsafe(`release savepoint ${name}`);
            return result;
          } catch (err) {
            await conn.unsafe(`rollback to savepoint ${name}`).catch(() => {});
            first.failure = before;
            throw err;
          }
        };
      if (prop === "begin") throw new Error("begin inside a transaction: use savepoint");
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as unknown as Sql;
  try {
    const begun = conn.unsafe(`begin ${mode}`).execute();
    begun.catch(() => {});
    let result: unknown;
    try {
      result = await settle(fn(scoped));
      await begun;
    } catch (err) {
      await conn.unsafe("rollback").catch(() => {});
      // After a failed statement every later one answers 25P02; the first failure is the news.
      throw first.failure && inCauses(err, (e) => e.code === "25P02") ? first.failure.error : err;
    }
    const done = await conn.unsafe("commit");
    if (done.command !== "COMMIT")
      throw (
        first.failure?.error ?? new Error("the server rolled back the transaction instead of committing it")
      );
    return result;
  } finally {
    conn.release();
  }
}

const settle = (x: unknown) => (Array.isArray(x) ? Promise.all(x) : Promise.resolve(x));
