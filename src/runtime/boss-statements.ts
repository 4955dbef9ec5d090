import { createHash } from "node:crypto";
import type { PgBoss } from "pg-boss";

type QueryConfig = { name?: string; text: string; values?: unknown[] };
type QueryFn = (config: string | QueryConfig, values?: unknown, callback?: unknown) => unknown;
type Pool = { query: QueryFn };

/**
 * Makes pg-boss's parameterized statements named prepared statements on each of its pooled
 * connections. pg-boss sends every statement unnamed, so Postgres parses and plans its fetch (a
 * CTE with group-concurrency counting), insert and complete statements on every call: measured
 * under load, 0.3 ms parse + 0.8 ms bind/plan for a 0.7 ms fetch. Named, each connection parses a
 * text once and Postgres settles on a cached plan after a few executions.
 *
 * Only statements sent with parameters are named: those already go through the extended protocol,
 * so they are single statements, and naming them changes nothing else. The name is a hash of the
 * text, so distinct texts (one per queue and option set, a bounded number) never collide. Wraps
 * `query` of pg-boss's own pool (`getDb().pool`, a node-postgres Pool, after `start()`); when that
 * shape is not there (another pg-boss version, an injected `db`) nothing is changed and false is
 * returned. Statements pg-boss runs on a checked-out client (shutdown-aware paths) stay unnamed.
 */
export function prepareBossStatements(boss: PgBoss): boolean {
  const pool = (boss.getDb() as unknown as { pool?: Pool }).pool;
  if (!pool || typeof pool.query !== "function") return false;
  const query = pool.query.bind(pool);
  pool.query = (config, values, callback) => {
    if (typeof config === "string" && Array.isArray(values) && values.length > 0)
      return query({ name: statementName(config), text: config, values }, callback);
    return query(config, values, callback);
  };
  return true;
}

const names = new Map<string, string>();

function statementName(text: string): string {
  let name = names.get(text);
  if (!name) {
    name = `pgboss_${createHash("sha1").update(text).digest("hex").slice(0, 20)}`;
    names.set(text, name);
  }
  return name;
}
