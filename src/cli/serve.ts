import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { eq } from "drizzle-orm";
import { runMigrations } from "../../db/migrate.ts";
import { apiKeys } from "../../db/schema/index.ts";
import { createApp, createOpsApp } from "../app.ts";
import type { Config } from "../config.ts";
import type { Deps } from "../deps.ts";
import { startWorkers, type Workers } from "../jobs/workers.ts";
import { createLogger } from "../lib/logger.ts";
import { openDatabase } from "../runtime/database.ts";
import { buildDeps, closeDeps } from "../runtime/deps.ts";
import { createOperatorKey } from "../services/api-keys/create-operator-key.ts";

/** How long SIGTERM waits for in-flight deliveries before releasing them. */
const SHUTDOWN_GRACE_MS = 10_000;

/**
 * `serve` (API + workers), `api` or `worker`. Applies migrations first (idempotent, locked), so
 * any number of processes can start together. Returns -1: the process keeps running.
 */
export async function runServer(config: Config, role: "serve" | "api" | "worker"): Promise<number> {
  const logger = createLogger(config.LOG_LEVEL, { role });
  const database = await openDatabase(config, logger);
  await runMigrations(database.url);
  const withWorkers = role !== "api";
  const deps = await buildDeps(config, database.url, {
    logger,
    supervise: withWorkers,
    poolMax: withWorkers ? 20 : 10,
  });
  if (database.embedded) await ensureFirstOperatorKey(deps);
  const workers: Workers | null = withWorkers ? await startWorkers(deps) : null;

  // Workers serve only /healthz, /readyz (and /metrics) on PORT, for orchestrator health checks.
  const app = role === "worker" ? createOpsApp(deps) : createApp(deps);
  const server = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, (info) => {
    const host = info.family === "IPv6" ? `[${info.address}]` : info.address;
    logger.info({ url: `http://${host}:${info.port}` }, `signalpost ${role} listening`);
    process.stderr.write(
      role === "worker"
        ? `Signalpost worker started (health on http://${host}:${info.port}/readyz)\n`
        : `Signalpost ${role} listening on http://${host}:${info.port} (docs: /docs)\n`,
    );
  });

  let shuttingDown = false;
  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    // In embedded mode the database stops alongside us; its clients' farewells are not news.
    deps.boss.removeAllListeners("error");
    deps.boss.on("error", (err) => logger.debug({ err }, "pg-boss error during shutdown"));
    logger.info({ signal }, "shutting down: no new work, finishing in-flight deliveries");
    server.close();
    const result = await workers?.stop({ timeoutMs: SHUTDOWN_GRACE_MS });
    if (result) logger.info(result, "workers stopped");
    await closeDeps(deps, { graceful: true, timeoutMs: 5000 });
    await database.stop();
    process.exit(0);
  };
  // A database client dying while we shut down (the embedded server stops with us, or Ctrl-C
  // reached the whole process group) is expected then; at any other time it is fatal.
  process.on("uncaughtException", (err) => {
    if (shuttingDown) {
      logger.debug({ err }, "error during shutdown (ignored)");
      return;
    }
    logger.fatal({ err }, "uncaught exception");
    process.exit(1);
  });
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
  return -1;
}

/** Embedded first start: create an operator key, print it once, keep a copy readable only by this user. */
async function ensureFirstOperatorKey(deps: Deps): Promise<void> {
  const existing = await deps.db
    .select({ id: apiKeys.id })
    .from(apiKeys)
    .where(eq(apiKeys.role, "operator"))
    .limit(1);
  if (existing.length) return;
  const key = await createOperatorKey(deps.db, "first-start");
  const path = join(deps.config.DATA_DIR, "operator-key");
  await writeFile(path, `${key.token}\n`, { mode: 0o600 });
  process.stderr.write(
    `\nFirst start: created operator API key ${key.id}. It is shown only this once (a copy is in ${path}, mode 0600):\n\n  ${key.token}\n\n`,
  );
}
