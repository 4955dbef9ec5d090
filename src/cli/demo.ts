import { type ChildProcess, spawn } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { serve } from "@hono/node-server";
import { and, count, sql as dsql, eq, inArray } from "drizzle-orm";
import { runMigrations } from "../../db/migrate.ts";
import { deliveries, events, signalSnapshots } from "../../db/schema/index.ts";
import { createApp } from "../app.ts";
import { type Config, ConfigError, loadConfig } from "../config.ts";
import { generateSecret } from "../delivery/sign.ts";
import { vegaDatasetPath } from "../detector/datasets.ts";
import { readReplayInput } from "../detector/replay.ts";
import { isSignalKind, type Snapshot } from "../detector/snapshot.ts";
import { startWorkers } from "../jobs/workers.ts";
import { createLogger } from "../lib/logger.ts";
import { openDatabase } from "../runtime/database.ts";
import { buildDeps, closeDeps } from "../runtime/deps.ts";
import { createOperatorKey } from "../services/api-keys/create-operator-key.ts";

/**
 * `npm run demo`: the whole product on real market history. Starts the service (API + workers) on
 * the embedded database (or DATABASE_URL), a verifying receiver in another process, subscribes it
 * through the REST API, replays S&P 500 daily 2000–2020 and five stocks monthly 2000–2010 through
 * `PUT /v1/signals`, waits until every delivery is done and prints a summary. Each run uses a fresh
 * source name, so it starts from a clean baseline on a database that already has data.
 */
export async function runDemo(args: string[]): Promise<number> {
  if (args.includes("--receiver")) return runDemoReceiver();
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`signalpost: ${err.message}`);
      return 2;
    }
    throw err;
  }
  return demo(config);
}

const BATCH = 1000;
const DONE_TIMEOUT_MS = 170_000;

async function demo(config: Config): Promise<number> {
  const started = performance.now();
  const say = (s: string) => process.stderr.write(`demo: ${s}\n`);
  // The receiver is on loopback; the demo's own service may deliver there.
  config.SSRF_ALLOW_CIDRS = [...config.SSRF_ALLOW_CIDRS, "127.0.0.1/32"];
  if (!config.DATABASE_URL) {
    // Apart from a `serve` that may be running on the default data directory and port.
    config.DATA_DIR = join(config.DATA_DIR, "demo");
    config.EMBEDDED_PG_PORT += 1;
  }
  const logger = createLogger(config.LOG_LEVEL === "info" ? "warn" : config.LOG_LEVEL, { role: "demo" });
  const database = await openDatabase(config, logger);
  await runMigrations(database.url);
  const deps = await buildDeps(config, database.url, { logger, poolMax: 20 });
  const workers = await startWorkers(deps);
  const app = createApp(deps);
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  const api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  say(
    `service on ${api} (${database.embedded ? `embedded PostgreSQL in ${config.DATA_DIR}` : "DATABASE_URL"})`,
  );
  const { token } = await createOperatorKey(deps.db, "demo");
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${api}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text.slice(0, 500)}`);
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  };

  const secret = generateSecret();
  const receiver = await startReceiverProcess(secret);
  let endpointId: string | null = null;
  try {
    const tenant = await call("POST", "/v1/tenants", { name: "Demo partner" });
    const endpoint = await call("POST", "/v1/endpoints", {
      tenantId: tenant.id,
      url: receiver.url,
      description: "npm run demo: verifying receiver, every event type",
      secret,
    });
    endpointId = String(endpoint.id);
    say(`tenant ${String(tenant.id)}, endpoint ${endpointId} → ${receiver.url} (all event types)`);

    const source = `demo-${Date.now().toString(36)}`;
    const sp = await readReplayInput(vegaDatasetPath("sp500-2000.csv"), { source, symbol: "SPX" });
    const st = await readReplayInput(vegaDatasetPath("stocks.csv"), { source });
    const snapshots = [...sp.snapshots, ...st.snapshots];
    say(
      `read ${sp.rows} S&P 500 rows + ${st.rows} stock rows → ${snapshots.length} snapshots (source ${source})`,
    );
    for (let i = 0; i < snapshots.length; i += BATCH) {
      await call("PUT", "/v1/signals", { source, snapshots: snapshots.slice(i, i + BATCH).map(toApiRow) });
    }
    say(
      `PUT ${Math.ceil(snapshots.length / BATCH)} batches to /v1/signals; waiting for detection and delivery…`,
    );

    const bySource = dsql`(${events.body}::jsonb -> 'data' ->> 'source') = ${source}`;
    const deadline = Date.now() + DONE_TIMEOUT_MS;
    let lastNote = 0;
    for (;;) {
      const [inbox] = await deps.db.select({ n: count() }).from(signalSnapshots);
      const jobs = await deps.sql<{ n: number }[]>`
        select count(*)::int as n from pgboss.job
        where name in ('detect', 'fanout') and state in ('created', 'retry', 'active')
          and start_after < now() + interval '1 minute'`;
      const [pending] = await deps.db
        .select({ n: count() })
        .from(deliveries)
        .where(and(eq(deliveries.endpointId, endpointId), eq(deliveries.status, "pending")));
      const [evs] = await deps.db.select({ n: count() }).from(events).where(bySource);
      const idle = (inbox?.n ?? 1) === 0 && (jobs[0]?.n ?? 1) === 0 && (pending?.n ?? 1) === 0;
      if (idle && receiver.received.size >= (evs?.n ?? 0)) break;
      if (Date.now() > deadline) throw new Error("timed out waiting for every delivery");
      if (Date.now() - lastNote > 5000) {
        lastNote = Date.now();
        say(`${receiver.received.size}/${evs?.n ?? 0} delivered so far`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }

    const types = await deps.db
      .select({ type: events.type, n: count() })
      .from(events)
      .where(bySource)
      .groupBy(events.type)
      .orderBy(events.type);
    const evRows = await deps.db
      .select({ id: events.id, createdAt: events.createdAt })
      .from(events)
      .where(bySource);
    const ids = evRows.map((e) => e.id);
    const statuses =
      ids.length === 0
        ? []
        : await deps.db
            .select({ status: deliveries.status, n: count() })
            .from(deliveries)
            .where(and(eq(deliveries.endpointId, endpointId), inArray(deliveries.eventId, ids)))
            .groupBy(deliveries.status);
    const succeeded = statuses.find((s) => s.status === "succeeded")?.n ?? 0;
    const latencies = evRows
      .map((e) => {
        const at = receiver.received.get(e.id);
        return at === undefined ? null : at - e.createdAt.getTime();
      })
      .filter((x): x is number => x !== null)
      .sort((a, b) => a - b);
    const pct = (p: number) =>
      latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)] ?? 0;
    const total = evRows.length;
    const consistent = succeeded === total && receiver.received.size === total && receiver.failures === 0;
    const wall = (performance.now() - started) / 1000;
    const lines = [
      "",
      "Signalpost demo: real market history, end to end",
      `  snapshots read        ${snapshots.length} (${sp.rows} S&P 500 daily rows 2000–2020, ${st.rows} monthly rows of ${st.symbols.length} stocks 2000–2010)`,
      `  changes detected      ${total}: ${types.map((t) => `${t.type} ${t.n}`).join(", ")}`,
      `  deliveries succeeded  ${succeeded} of ${total}`,
      `  verified receipts     ${receiver.received.size} unique (${receiver.requests} requests)`,
      `  signature failures    ${receiver.failures}`,
      `  publish→receipt ms    p50 ${pct(50)}  p95 ${pct(95)}  p99 ${pct(99)}  (event row created → receiver got it)`,
      `  wall time             ${wall.toFixed(1)} s`,
      `  consistent            ${consistent ? "yes: events = deliveries succeeded = verified receipts" : "NO"}`,
      "",
    ];
    process.stdout.write(lines.join("\n"));
    return consistent ? 0 : 1;
  } finally {
    // Stop the demo endpoint receiving anything after the receiver is gone.
    if (endpointId) await call("DELETE", `/v1/endpoints/${endpointId}`).catch(() => {});
    receiver.stop();
    server.close();
    await workers.stop({ timeoutMs: 2000 });
    await closeDeps(deps, { graceful: false });
    await database.stop();
  }
}

/** The snapshot as a `PUT /v1/signals` row. */
function toApiRow(s: Snapshot): Record<string, unknown> {
  const observedAt = s.observedAt.toISOString();
  if (isSignalKind(s.kind) && "value" in s.value)
    return { symbol: s.symbol, kind: s.kind, timeframe: s.timeframe, observedAt, ...s.value };
  return { symbol: s.symbol, kind: s.kind, observedAt, ...s.value };
}

type ReceiverProcess = {
  url: string;
  /** webhook-id → first verified receipt time (ms since epoch). */
  received: Map<string, number>;
  requests: number;
  failures: number;
  stop: () => void;
};

/** Starts `signalpost demo --receiver` in a child process; the secret goes over stdin, never argv. */
async function startReceiverProcess(secret: string): Promise<ReceiverProcess> {
  const main = fileURLToPath(new URL("./main.ts", import.meta.url));
  const child: ChildProcess = spawn(process.execPath, [main, "demo", "--receiver"], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  child.stdin?.end(`${secret}\n`);
  const state: ReceiverProcess = {
    url: "",
    received: new Map(),
    requests: 0,
    failures: 0,
    stop: () => child.kill("SIGTERM"),
  };
  const lines = createInterface({ input: child.stdout ?? process.stdin });
  await new Promise<void>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`receiver exited early (${code})`)));
    lines.on("line", (line) => {
      const msg = JSON.parse(line) as { port?: number; id?: string; ok?: boolean; at?: number };
      if (msg.port) {
        state.url = `http://127.0.0.1:${msg.port}/hooks/signalpost`;
        resolve();
        return;
      }
      state.requests++;
      if (!msg.ok) state.failures++;
      else if (msg.id && msg.at && !state.received.has(msg.id)) state.received.set(msg.id, msg.at);
    });
  });
  return state;
}

/**
 * The receiver side: verifies every request with the `standardwebhooks` package (someone else's
 * implementation of the spec) and reports `{id, ok, at}` as a JSON line on stdout.
 */
async function runDemoReceiver(): Promise<number> {
  const { Webhook } = await import("standardwebhooks");
  const secret = await new Promise<string>((resolve) => {
    const rl = createInterface({ input: process.stdin });
    rl.once("line", (l) => {
      rl.close();
      resolve(l.trim());
    });
  });
  const wh = new Webhook(secret);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const at = Date.now();
      const h = (n: string) => String(req.headers[n] ?? "");
      let ok = true;
      try {
        wh.verify(Buffer.concat(chunks).toString("utf8"), {
          "webhook-id": h("webhook-id"),
          "webhook-timestamp": h("webhook-timestamp"),
          "webhook-signature": h("webhook-signature"),
        });
      } catch {
        ok = false;
      }
      process.stdout.write(`${JSON.stringify({ id: h("webhook-id"), ok, at })}\n`);
      res.writeHead(ok ? 204 : 401);
      res.end();
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
  process.on("SIGTERM", () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
  return -1;
}
