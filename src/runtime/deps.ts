import { PgBoss } from "pg-boss";
import { createDb } from "../../db/client.ts";
import { BOSS_SCHEMA } from "../../db/migrate.ts";
import type { Config } from "../config.ts";
import { systemResolver } from "../delivery/ssrf.ts";
import type { Deps } from "../deps.ts";
import { Keyring } from "../lib/crypto.ts";
import type { Logger } from "../lib/logger.ts";
import { createMetrics } from "../metrics/registry.ts";
import { prepareBossStatements } from "./boss-statements.ts";
import { verifyEncryptionKeys } from "./encryption-keys.ts";
import { createCaches, listenForInvalidations } from "./reference-cache.ts";

export type BuildOptions = {
  logger: Logger;
  /** postgres.js pool size. Default 10. */
  poolMax?: number;
  /** pg-boss pool size. Default 10. */
  bossMax?: number;
  /** Run pg-boss maintenance and cron here (workers). Default true. */
  supervise?: boolean;
  resolver?: Deps["resolver"];
  now?: () => Date;
};

/** Connects everything a process needs. pg-boss is started (it must be, even to send). */
export async function buildDeps(config: Config, databaseUrl: string, opts: BuildOptions): Promise<Deps> {
  const { sql, db } = createDb(databaseUrl, {
    max: opts.poolMax ?? 10,
    prepare: config.DATABASE_PREPARED_STATEMENTS,
  });
  const supervise = opts.supervise ?? true;
  const boss = new PgBoss({
    connectionString: databaseUrl,
    schema: BOSS_SCHEMA,
    max: opts.bossMax ?? 10,
    migrate: false,
    supervise,
    // Job expiry runs in the monitor pass, claimed once per monitor interval across processes.
    superviseIntervalSeconds: Math.max(1, Math.round(config.QUEUE_SUPERVISE_INTERVAL / 1000)),
    monitorIntervalSeconds: Math.max(1, Math.round(config.QUEUE_SUPERVISE_INTERVAL / 1000)),
    schedule: supervise,
    useListenNotify: true,
    application_name: "signalpost-boss",
  });
  boss.on("error", (err) => opts.logger.warn({ err }, "pg-boss error"));
  await boss.start();
  if (config.DATABASE_PREPARED_STATEMENTS && !prepareBossStatements(boss))
    opts.logger.debug("pg-boss statements left unnamed (unknown pool shape)");
  const current = config.encryptionKeys.current;
  if (!current) throw new Error("no encryption key configured");
  const keyring = new Keyring(current, config.encryptionKeys.old);
  try {
    await verifyEncryptionKeys(sql, keyring);
  } catch (err) {
    await boss.stop({ graceful: false, close: true }).catch(() => {});
    await sql.end({ timeout: 5 }).catch(() => {});
    throw err;
  }
  const caches = createCaches(config.REFERENCE_CACHE_TTL);
  if (config.REFERENCE_CACHE_TTL > 0) await listenForInvalidations(sql, caches, opts.logger);
  return {
    config,
    sql,
    db,
    boss,
    logger: opts.logger,
    keyring,
    metrics: createMetrics({ sql, boss }),
    caches,
    resolver: opts.resolver ?? systemResolver,
    now: opts.now ?? (() => new Date()),
  };
}

export async function closeDeps(
  deps: Deps,
  opts: { graceful?: boolean; timeoutMs?: number } = {},
): Promise<void> {
  await deps.boss
    .stop({ graceful: opts.graceful ?? true, timeout: opts.timeoutMs ?? 10_000, close: true })
    .catch(() => {});
  await deps.sql.end({ timeout: 5 }).catch(() => {});
}
