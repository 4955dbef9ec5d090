#!/usr/bin/env node
import { ConfigError, loadConfig, StartupError } from "../config.ts";
import { createLogger } from "../lib/logger.ts";
import { registerModuleFormatCache } from "../runtime/module-format.ts";

// Before the dynamic imports below pull in drizzle and the rest (see module-format.ts).
registerModuleFormatCache();

const USAGE = `signalpost <command>

  serve        API and workers in one process (default; what \`npm start\` runs)
  api          the HTTP API only
  worker       background workers only (fan-out, deliveries, detector, poller, maintenance)
  migrate      apply database migrations and the pg-boss schema (idempotent)
  bootstrap    create an operator API key and print it once
  listen       a local receiver that verifies signatures and prints deliveries
               (--secret whsec_…/whpk_… or WEBHOOK_SECRET, --port 4000, --host 127.0.0.1, --status 200)
  replay FILE  feed a history (JSON lines of snapshots, or a price CSV) into the change detector
  demo         replay real S&P 500 history end to end into a verifying receiver and print a summary
  rotate-encryption-key
               re-encrypt stored secrets with the current ENCRYPTION_KEY (old ones in ENCRYPTION_OLD_KEYS)
  openapi      print the OpenAPI document (--write to update openapi/openapi.json, --check to diff)

Configuration is read from environment variables; see README.md.`;

const [command = "serve", ...args] = process.argv.slice(2);

async function main(): Promise<number> {
  switch (command) {
    case "serve":
    case "api":
    case "worker": {
      const config = loadConfigOrExit();
      const { runServer } = await import("./serve.ts");
      return runServer(config, command);
    }
    case "migrate": {
      const config = loadConfigOrExit();
      const { runMigrate } = await import("./migrate.ts");
      return runMigrate(config);
    }
    case "bootstrap": {
      const config = loadConfigOrExit();
      const { runBootstrap } = await import("./bootstrap.ts");
      return runBootstrap(config, args);
    }
    case "listen": {
      if (args.includes("--help") || args.includes("-h")) {
        console.log(USAGE);
        return 0;
      }
      const { runListen } = await import("./listen.ts");
      return runListen(args).catch((err: Error) => {
        console.error(`listen: ${err.message}\n\n${USAGE}`);
        return 2;
      });
    }
    case "openapi": {
      const { runOpenapi } = await import("./openapi.ts");
      return runOpenapi(args);
    }
    case "help":
    case "--help":
    case "-h":
      console.log(USAGE);
      return 0;
    default: {
      const extra = await import("./extra-commands.ts");
      const handler = extra.commands[command];
      if (handler) return handler(args);
      console.error(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
    }
  }
}

function loadConfigOrExit() {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`signalpost: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
}

main().then(
  (code) => {
    if (code !== -1) process.exit(code);
  },
  (err) => {
    if (err instanceof StartupError) {
      console.error(`signalpost: ${err.message}`);
      process.exit(2);
    }
    createLogger("error").fatal({ err }, "signalpost failed");
    process.exit(1);
  },
);
