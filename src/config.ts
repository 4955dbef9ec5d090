import { z } from "zod";
import { parseDuration, parseDurationList } from "./lib/duration.ts";

/**
 * The only module that reads `process.env`. Every setting is validated once, at start; a bad value
 * stops the process with a message naming the variable. Everything else receives a `Config`.
 */

/** true/false, 1/0, yes/no, in any case. */
const bool = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(["true", "false", "1", "0", "yes", "no"]))
  .transform((v) => v === "true" || v === "1" || v === "yes");

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v, ctx) => {
      try {
        return parseDuration(v);
      } catch (err) {
        ctx.addIssue({ code: "custom", message: (err as Error).message });
        return z.NEVER;
      }
    });

const durationList = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v, ctx) => {
      try {
        return parseDurationList(v);
      } catch (err) {
        ctx.addIssue({ code: "custom", message: (err as Error).message });
        return z.NEVER;
      }
    });

const csv = z
  .string()
  .default("")
  .transform((v) =>
    v
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  );

/** Decimal digits only: `0x10`, `1e2` or `5 apples` are refused rather than read as something else. */
const int = (fallback: number, min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^[+-]?\d+$/, { message: "expected a whole number in decimal digits" })
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .default(fallback);

export const envSchema = z.object({
  /** Postgres connection string. Unset: an embedded PostgreSQL is started under DATA_DIR. */
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  /**
   * Run parameterized statements (drizzle's, postgres.js's and pg-boss's queue statements) as
   * prepared statements, parsed and planned once per connection. Default true; set false behind a
   * connection pooler in transaction mode (PgBouncer before 1.21), which cannot keep them.
   */
  DATABASE_PREPARED_STATEMENTS: bool.default(true),
  /** Where embedded Postgres, the generated operator key and the generated encryption key live. Default `./.signalpost`. */
  DATA_DIR: z.string().min(1).default("./.signalpost"),
  /** Port of the embedded PostgreSQL (used only without DATABASE_URL). Default 54329. */
  EMBEDDED_PG_PORT: int(54329, 1024, 65535),
  /** Port of the HTTP API. Default 8080. */
  PORT: int(8080, 0, 65535),
  /** Interface the HTTP API binds to. Default 127.0.0.1 (docker-compose sets 0.0.0.0). */
  HOST: z.string().min(1).default("127.0.0.1"),
  /** Public base URL, used as the JWT issuer and in links. Default http://HOST:PORT. */
  PUBLIC_URL: z.url().optional(),
  /** `production` requires https endpoint URLs. Default `development`. */
  SIGNALPOST_ENV: z.enum(["development", "production", "test"]).default("development"),
  /** pino level. Default `info`. */
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** base64 of 32 bytes: the key that encrypts endpoint secrets at rest (AES-256-GCM). Required with DATABASE_URL. */
  ENCRYPTION_KEY: z.base64().optional(),
  /** Identifier stored beside each ciphertext, so the key can be rotated. Default `k1`. */
  ENCRYPTION_KEY_ID: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,32}$/)
    .default("k1"),
  /** Earlier keys still accepted for decryption: `id:base64,id:base64`. */
  ENCRYPTION_OLD_KEYS: csv,
  /** Retry delays after the first attempt, e.g. `5s,5m,30m,2h,5h,10h,10h` (the default). */
  DELIVERY_RETRY_SCHEDULE: durationList("5s,5m,30m,2h,5h,10h,10h"),
  /** Jitter applied to each retry delay, as a fraction. Default 0.2 (±20 %). */
  DELIVERY_JITTER: z.coerce.number().min(0).max(0.5).default(0.2),
  /** Per-request timeout. Default 15s, at most 30s. */
  DELIVERY_TIMEOUT: duration("15s").pipe(z.number().min(1).max(30_000)),
  /** Bytes of each response body kept in the attempt log. Default 16384. */
  DELIVERY_RESPONSE_CAP_BYTES: int(16_384, 0, 1_048_576),
  /** Upper bound for a receiver's Retry-After. Default 1h. */
  DELIVERY_RETRY_AFTER_MAX: duration("1h"),
  /** Continuous failure after which an endpoint is disabled. Default 5 days. */
  ENDPOINT_DISABLE_AFTER: duration("5d"),
  /**
   * Concurrent deliveries per worker process. Default 128: requests mostly wait on receivers, and
   * 2 workers × 64 were fewer slots than 20 endpoints × 8 (bench throughput 960/s at 64, 1,135/s
   * at 128).
   */
  WORKER_CONCURRENCY: int(128, 1, 1024),
  /** Default concurrent requests per endpoint, across all worker processes. Default 8. */
  ENDPOINT_MAX_CONCURRENCY: int(8, 1, 256),
  /**
   * Deliveries a publish creates inside its own transaction: a publish (or batch) matching at
   * most this many endpoints in all skips the fan-out job. 0 = always through the job. Default 100.
   */
  FANOUT_INLINE_MAX: int(100, 0, 10_000),
  /** CIDRs delivery may reach although private/loopback, e.g. `127.0.0.1/32`. Default none. */
  SSRF_ALLOW_CIDRS: csv,
  /** Read the client IP from X-Forwarded-For (only behind a trusted proxy). Default false. */
  TRUST_PROXY: bool.default(false),
  /** Largest accepted request body. Default 1 MiB. */
  MAX_BODY_BYTES: int(1_048_576, 1024, 64 * 1_048_576),
  /** Largest event payload (the `data` serialised). Default 256 KiB. */
  MAX_PAYLOAD_BYTES: int(262_144, 128, 16 * 1_048_576),
  /** Requests per second per API key. Default 50 (burst 2x). */
  RATE_LIMIT_PER_SECOND: int(50, 1, 100_000),
  /** Requests per second shared by all of one tenant's keys and tokens. Default 200 (burst 2x). */
  RATE_LIMIT_TENANT_PER_SECOND: int(200, 1, 1_000_000),
  /**
   * How long a process may keep an API key or event type row it read (src/runtime/reference-cache.ts).
   * Changes reach every process at once through NOTIFY; this bounds staleness should one be missed.
   * Default 10s; 0 turns the cache off (every request reads the rows).
   */
  REFERENCE_CACHE_TTL: duration("10s").pipe(z.number().min(0).max(300_000)),
  /** Lifetime of OAuth access tokens. Default 15m. */
  OAUTH_TOKEN_TTL: duration("15m"),
  /** Score move of a grade (points) that emits an event without a label change. Default 5. */
  GRADE_SCORE_THRESHOLD: z.coerce.number().min(0).max(100).default(5),
  /** Upstream data API base URL (Token Metrics v2 shape). Unset: the poller is off. */
  UPSTREAM_BASE_URL: z.url().optional(),
  /** Upstream API key, sent as `x-api-key`. */
  UPSTREAM_API_KEY: z.string().optional(),
  /** Poll schedule (cron). Default every 15 minutes. */
  UPSTREAM_POLL_CRON: z.string().default("*/15 * * * *"),
  /** Most upstream calls per hour (credits). Default 120. */
  UPSTREAM_MAX_CALLS_PER_HOUR: int(120, 1, 100_000),
  /** Symbols to poll, comma-separated. Default: all the upstream returns. */
  UPSTREAM_SYMBOLS: csv,
  /** Source name stored with polled snapshots and carried in their events (`data.source`). Default `tokenmetrics`. */
  UPSTREAM_SOURCE: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/)
    .default("tokenmetrics"),
  /**
   * Lease of a delivery job: a job whose worker died is retried this long after it started. Must
   * exceed DELIVERY_TIMEOUT by at least 5 s, so an expired job never overlaps a live request.
   * Default 60s.
   */
  DELIVERY_LEASE: duration("60s").pipe(z.number().min(2_000).max(3_600_000)),
  /**
   * How often pg-boss's supervisor (in worker processes) fails expired jobs so they are retried:
   * a delivery whose worker died resumes within DELIVERY_LEASE plus this. Default 15s.
   */
  QUEUE_SUPERVISE_INTERVAL: duration("15s").pipe(z.number().min(1_000).max(3_600_000)),
  /** Cron expression of the maintenance pass (sweeper, auto-disable, retention). Runs once per tick across all processes. Default every minute. */
  MAINTENANCE_CRON: z.string().min(9).default("* * * * *"),
  /** A pending delivery whose next attempt is overdue by more than this, with no live job, is re-enqueued by the sweeper. Default 2m. */
  SWEEPER_MARGIN: duration("2m"),
  /** Keep attempt rows this long. Default 30 days. */
  RETENTION_ATTEMPTS: duration("30d"),
  /** Keep events (with their deliveries and attempts) this long; events with pending deliveries are kept. Default 90 days. */
  RETENTION_EVENTS: duration("90d"),
  /** Keep Idempotency-Key records this long. Default 24h. */
  RETENTION_IDEMPOTENCY_KEYS: duration("24h"),
  /** Rows deleted per retention statement, so no statement holds locks for long. Default 5000. */
  RETENTION_BATCH_SIZE: int(5_000, 1, 100_000),
  /** Consecutive failed attempts that open an endpoint's circuit (its deliveries then wait). Default 10. */
  CIRCUIT_FAILURE_THRESHOLD: int(10, 1, 10_000),
  /** How long an open circuit waits before one probe attempt decides to close or reopen it. Default 1m. */
  CIRCUIT_OPEN_DURATION: duration("1m").pipe(z.number().min(100)),
  /** Largest `since` window of POST /v1/endpoints/{id}/recover. Default 14 days. */
  RECOVER_MAX_WINDOW: duration("14d"),
  /** Serve Prometheus metrics at /metrics. Default true. */
  METRICS_ENABLED: bool.default(true),
  /** If set, /metrics requires `Authorization: Bearer <METRICS_TOKEN>`. Default unset (open, like /healthz). */
  METRICS_TOKEN: z.string().min(16).optional(),
});

export type Env = z.input<typeof envSchema>;
export type Config = z.output<typeof envSchema> & {
  /** The HMAC/AES key material decoded from ENCRYPTION_KEY (may be filled in by embedded mode). */
  encryptionKeys: { current: { id: string; key: Buffer } | null; old: { id: string; key: Buffer }[] };
};

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.problems = problems;
  }
}

/** A problem the operator must fix before the process can start; printed plainly, no stack trace. */
export class StartupError extends Error {}

/** Parses and validates configuration from an environment map (default: `process.env`). */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty (or blank) strings mean "unset", as in most twelve-factor tools.
  const cleaned = Object.fromEntries(
    Object.keys(envSchema.shape)
      .map((k) => [k, env[k]] as const)
      .filter(([, v]) => v !== undefined && v.trim() !== ""),
  );
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join(".") || "(env)"}: ${i.message}`));
  }
  const c = parsed.data;
  const problems: string[] = [];
  const decodeKey = (id: string, b64: string, name: string) => {
    const key = Buffer.from(b64, "base64");
    if (key.length !== 32) problems.push(`${name}: must be base64 of exactly 32 bytes (got ${key.length})`);
    return { id, key };
  };
  const current = c.ENCRYPTION_KEY
    ? decodeKey(c.ENCRYPTION_KEY_ID, c.ENCRYPTION_KEY, "ENCRYPTION_KEY")
    : null;
  const old = c.ENCRYPTION_OLD_KEYS.map((pair) => {
    const [id, b64] = pair.split(":");
    if (!id || !b64) {
      problems.push("ENCRYPTION_OLD_KEYS: entries must look like id:base64");
      return { id: "", key: Buffer.alloc(0) };
    }
    return decodeKey(id, b64, "ENCRYPTION_OLD_KEYS");
  });
  if (c.DATABASE_URL && !current) problems.push("ENCRYPTION_KEY: required when DATABASE_URL is set");
  if (c.DELIVERY_LEASE < c.DELIVERY_TIMEOUT + 5_000)
    problems.push("DELIVERY_LEASE: must exceed DELIVERY_TIMEOUT by at least 5s");
  if (c.UPSTREAM_BASE_URL && !c.UPSTREAM_API_KEY)
    problems.push("UPSTREAM_API_KEY: required with UPSTREAM_BASE_URL");
  if (problems.length) throw new ConfigError(problems);
  return { ...c, encryptionKeys: { current, old } };
}
