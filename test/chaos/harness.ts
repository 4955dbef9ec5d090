import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { NODE_FLAGS } from "../../src/cli/node-flags.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { freePort } from "../helpers/ports.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));

export type Proc = {
  role: string;
  port: number;
  child: ChildProcess;
  /** Every log line (JSON, pino) and stderr line the process printed. */
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once GET /readyz answers 200. */
  waitReady: (timeoutMs?: number) => Promise<void>;
  /** Resolves with the first line matching, past or future. */
  waitLine: (re: RegExp, timeoutMs?: number) => Promise<string>;
  kill: (signal: NodeJS.Signals) => void;
};

/** Settings every spawned process gets: fast schedules and leases, loopback receivers allowed. */
export function chaosEnv(db: TestDatabase, encryptionKey: string, extra: Record<string, string> = {}) {
  return {
    DATABASE_URL: db.url,
    ENCRYPTION_KEY: encryptionKey,
    SIGNALPOST_ENV: "test",
    LOG_LEVEL: "info",
    HOST: "127.0.0.1",
    SSRF_ALLOW_CIDRS: "127.0.0.1/32",
    DELIVERY_RETRY_SCHEDULE: "200ms,200ms",
    DELIVERY_JITTER: "0",
    DELIVERY_TIMEOUT: "3s",
    DELIVERY_LEASE: "8s",
    QUEUE_SUPERVISE_INTERVAL: "1s",
    MAINTENANCE_CRON: "0 0 1 1 *",
    RATE_LIMIT_PER_SECOND: "100000",
    RATE_LIMIT_TENANT_PER_SECOND: "100000",
    ...extra,
  };
}

/** Spawns `node src/cli/main.ts <role>` as a real child process with its own port. */
export async function spawnSignalpost(
  role: "api" | "worker" | "serve",
  env: Record<string, string>,
): Promise<Proc> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const child = spawn(process.execPath, [...NODE_FLAGS, "src/cli/main.ts", role], {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env, PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const watchers: { re: RegExp; resolve: (l: string) => void }[] = [];
  const onData = (buf: Buffer) => {
    for (const line of buf.toString("utf8").split("\n")) {
      if (!line) continue;
      lines.push(line);
      if (process.env.SP_CHAOS_VERBOSE) process.stderr.write(`[${role}:${port}] ${line}\n`);
      for (const w of [...watchers])
        if (w.re.test(line)) {
          watchers.splice(watchers.indexOf(w), 1);
          w.resolve(line);
        }
    }
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const proc: Proc = {
    role,
    port,
    child,
    lines,
    exited,
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    waitLine: (re, timeoutMs = 30_000) => {
      const hit = lines.find((l) => re.test(l));
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error(`${role}: no line matching ${re} in ${timeoutMs} ms`)),
          timeoutMs,
        );
        watchers.push({
          re,
          resolve: (l) => {
            clearTimeout(t);
            resolve(l);
          },
        });
      });
    },
    waitReady: async (timeoutMs = 30_000) => {
      const until = Date.now() + timeoutMs;
      for (;;) {
        if (child.exitCode !== null)
          throw new Error(`${role} exited (${child.exitCode}):\n${lines.slice(-20).join("\n")}`);
        const status = await readyStatus(port);
        if (status === 200) return;
        if (Date.now() > until)
          throw new Error(`${role} not ready in ${timeoutMs} ms:\n${lines.slice(-20).join("\n")}`);
        await sleep(100);
      }
    },
  };
  return proc;
}

/** GET /readyz status, or 0 when nothing answers. */
export async function readyStatus(port: number): Promise<number> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(3000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Stops a process: SIGTERM, then SIGKILL if it has not exited in time. */
export async function stop(p: Proc, timeoutMs = 15_000): Promise<void> {
  p.kill("SIGTERM");
  const t = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
  await p.exited;
  clearTimeout(t);
}

/**
 * A TCP proxy to the test PostgreSQL that can be switched off (every connection cut, new ones
 * refused) and on again: a database outage as the processes see it.
 */
export async function startDbProxy(targetPort = 5432): Promise<{
  port: number;
  up: () => void;
  down: () => void;
  close: () => Promise<void>;
}> {
  let accepting = true;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (!accepting) {
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, "127.0.0.1");
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream).pipe(client);
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  return {
    port,
    up: () => {
      accepting = true;
    },
    down: () => {
      accepting = false;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    close: async () => {
      accepting = false;
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A fresh database plus an in-test handle on it (no workers) for fixtures and assertions. */
export async function chaosDatabase(): Promise<{ db: TestDatabase; key: string; t: TestApp }> {
  const db = await createTestDatabase();
  const key = randomBytes(32).toString("base64");
  const t = await startTestApp({ workers: false, database: db, env: { ENCRYPTION_KEY: key } });
  return { db, key, t };
}
