import type { PgBoss } from "pg-boss";
import type { Db, Sql } from "../db/client.ts";
import type { Config } from "./config.ts";
import type { Resolver } from "./delivery/ssrf.ts";
import type { Keyring } from "./lib/crypto.ts";
import type { Logger } from "./lib/logger.ts";
import type { Metrics } from "./metrics/registry.ts";
import type { Caches } from "./runtime/reference-cache.ts";

/**
 * Everything built once at start and handed down: to Hono as `c.var.deps`, to services as
 * `ctx.deps`, to workers as an argument. Tests build their own.
 */
export type Deps = {
  config: Config;
  sql: Sql;
  db: Db;
  boss: PgBoss;
  logger: Logger;
  keyring: Keyring;
  /** DNS resolution used by the SSRF guard; tests inject one to simulate rebinding and private answers. */
  resolver: Resolver;
  /** This process's Prometheus registry and recorders (one per Deps; see src/metrics/registry.ts). */
  metrics: Metrics;
  /** API keys and event types this process read, invalidated through NOTIFY (reference-cache.ts). */
  caches: Caches;
  /** The clock. Tests may replace it. */
  now: () => Date;
};
