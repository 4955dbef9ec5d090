import { fileURLToPath } from "node:url";
import { drizzle } from "drizzle-orm/postgres-js";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import { PgBoss } from "pg-boss";
import postgres from "postgres";
import { ensureQueues } from "../src/jobs/queues.ts";
import { seedEventTypes } from "../src/services/event-types/seed.ts";

export const MIGRATIONS_DIR = fileURLToPath(new URL("./migrations", import.meta.url));
export const BOSS_SCHEMA = "pgboss";

/**
 * Applies the app's migrations and installs/upgrades the pg-boss schema. Idempotent; safe to run
 * from several processes at once (drizzle's migrator and pg-boss both take advisory locks).
 */
export async function runMigrations(url: string): Promise<void> {
  // Unnamed statements: a handful run once, so preparing them gains nothing (and PgBouncer-safe).
  const sql = postgres(url, { max: 1, onnotice: () => {}, prepare: false });
  try {
    // Serialise concurrent migrators (several containers starting together). The pool has one
    // connection, so the session-level lock covers every statement the migrator runs.
    await sql`select pg_advisory_lock(7283910001)`;
    await migrate(drizzle(sql), { migrationsFolder: MIGRATIONS_DIR });
    // Reference data the app relies on (the built-in event types), upserted on every run.
    await seedEventTypes(drizzle(sql));
    await sql`select pg_advisory_unlock(7283910001)`;
  } finally {
    await sql.end();
  }
  const boss = new PgBoss({ connectionString: url, schema: BOSS_SCHEMA, supervise: false, schedule: false });
  boss.on("error", () => {});
  await boss.start();
  await ensureQueues(boss);
  await boss.stop({ graceful: false });
}
