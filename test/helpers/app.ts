import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { type ServerType, serve } from "@hono/node-server";
import { createApp } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import type { Deps } from "../../src/deps.ts";
import { startWorkers, type WorkerOptions, type Workers } from "../../src/jobs/workers.ts";
import { createLogger } from "../../src/lib/logger.ts";
import { type BuildOptions, buildDeps, closeDeps } from "../../src/runtime/deps.ts";
import { createOperatorKey } from "../../src/services/api-keys/create-operator-key.ts";
import { createTestDatabase, type TestDatabase } from "./db.ts";

export type TestEnv = Record<string, string>;

/**
 * One encryption key for every app a test file starts: apps sharing a database must hold the same
 * key under the same id (verifyEncryptionKeys refuses another one), as real processes must.
 */
const TEST_ENCRYPTION_KEY = randomBytes(32).toString("base64");

/** Settings every test starts from: fast schedules, loopback allowed for local receivers only. */
export function testEnv(overrides: TestEnv = {}): TestEnv {
  return {
    SIGNALPOST_ENV: "test",
    LOG_LEVEL: process.env.SP_TEST_LOG_LEVEL ?? "silent",
    ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
    DELIVERY_RETRY_SCHEDULE: "50ms,100ms",
    DELIVERY_JITTER: "0",
    DELIVERY_TIMEOUT: "2s",
    SSRF_ALLOW_CIDRS: "127.0.0.1/32",
    RATE_LIMIT_PER_SECOND: "10000",
    RATE_LIMIT_TENANT_PER_SECOND: "10000",
    ...overrides,
  };
}

export type TestApp = {
  db: TestDatabase;
  deps: Deps;
  app: ReturnType<typeof createApp>;
  /** Base URL when `listen: true`. */
  baseUrl: string;
  operatorToken: string;
  workers: Workers | null;
  /** JSON request through the app (in-process unless `listen`). Returns status, headers and parsed body. */
  request: (method: string, path: string, opts?: RequestOpts) => Promise<TestResponse>;
  close: () => Promise<void>;
};

export type RequestOpts = {
  token?: string | null;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
};
// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON bodies
export type TestResponse = { status: number; headers: Headers; body: any; text: string };

export type StartOptions = {
  env?: TestEnv;
  /** Start delivery workers in this process (with these options, e.g. a long idle poll). Default true. */
  workers?: boolean | WorkerOptions;
  /** Bind a real port (needed for IP-based tests). Default false. */
  listen?: boolean;
  build?: Partial<BuildOptions>;
  /** Reuse an existing database instead of creating one. */
  database?: TestDatabase;
};

/** A fully wired Signalpost on its own fresh database. Always `close()` it in afterAll. */
export async function startTestApp(opts: StartOptions = {}): Promise<TestApp> {
  const db = opts.database ?? (await createTestDatabase());
  const config = loadConfig(testEnv(opts.env));
  const logger = createLogger(config.LOG_LEVEL);
  const deps = await buildDeps(config, db.url, { logger, poolMax: 5, bossMax: 4, ...opts.build });
  const workers =
    opts.workers === false
      ? null
      : await startWorkers(deps, typeof opts.workers === "object" ? opts.workers : {});
  const app = createApp(deps);
  const { token: operatorToken } = await createOperatorKey(deps.db);
  let server: ServerType | null = null;
  let baseUrl = "http://in-process";
  if (opts.listen) {
    server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
    });
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  const request = async (method: string, path: string, r: RequestOpts = {}): Promise<TestResponse> => {
    const headers: Record<string, string> = { ...(r.headers ?? {}) };
    const token = r.token === undefined ? operatorToken : r.token;
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (r.rawBody !== undefined) body = r.rawBody;
    else if (r.body !== undefined) body = JSON.stringify(r.body);
    if (body !== undefined && !headers["content-type"]) headers["content-type"] = "application/json";
    const res = server
      ? await fetch(`${baseUrl}${path}`, { method, headers, body })
      : await app.request(path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = text;
    }
    return { status: res.status, headers: res.headers, body: parsed, text };
  };
  return {
    db,
    deps,
    app,
    baseUrl,
    operatorToken,
    workers,
    request,
    close: async () => {
      if (server) await new Promise<void>((r) => server?.close(() => r()));
      await workers?.stop({ timeoutMs: 2000 });
      await closeDeps(deps, { graceful: false });
      if (!opts.database) await db.drop();
    },
  };
}
