import { runMigrations } from "../../db/migrate.ts";
import type { Config } from "../config.ts";
import { createLogger } from "../lib/logger.ts";
import { openDatabase } from "../runtime/database.ts";

export async function runMigrate(config: Config): Promise<number> {
  const logger = createLogger(config.LOG_LEVEL);
  const db = await openDatabase(config, logger);
  try {
    await runMigrations(db.url);
    logger.info("migrations applied");
    return 0;
  } finally {
    await db.stop();
  }
}
