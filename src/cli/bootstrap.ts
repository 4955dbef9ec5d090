import { createDb } from "../../db/client.ts";
import { runMigrations } from "../../db/migrate.ts";
import type { Config } from "../config.ts";
import { createLogger } from "../lib/logger.ts";
import { openDatabase } from "../runtime/database.ts";
import { createOperatorKey } from "../services/api-keys/create-operator-key.ts";

/** `signalpost bootstrap [--name NAME]`: creates an operator key and prints it once on stdout. */
export async function runBootstrap(config: Config, args: string[]): Promise<number> {
  const logger = createLogger(config.LOG_LEVEL);
  const nameIdx = args.indexOf("--name");
  const name = nameIdx >= 0 ? (args[nameIdx + 1] ?? "bootstrap") : "bootstrap";
  const handle = await openDatabase(config, logger);
  try {
    await runMigrations(handle.url);
    const { sql, db } = createDb(handle.url, { max: 1 });
    try {
      const key = await createOperatorKey(db, name);
      process.stdout.write(`${key.token}\n`);
      process.stderr.write(`operator key ${key.id} created; the token above is shown only once\n`);
    } finally {
      await sql.end();
    }
    return 0;
  } finally {
    await handle.stop();
  }
}
