import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import { join } from "node:path";
import { PgBoss } from "pg-boss";
import postgres from "postgres";
import { BOSS_SCHEMA, runMigrations } from "../db/migrate.ts";
import { loadConfig } from "../src/config.ts";
import { generateSecret } from "../src/delivery/sign.ts";
import type { Deps } from "../src/deps.ts";
import { enqueueDeliveries } from "../src/jobs/enqueue.ts";
import { newId } from "../src/lib/ids.ts";
import { createLogger } from "../src/lib/logger.ts";
import { buildDeps, closeDeps } from "../src/runtime/deps.ts";
import { createOperatorKey } from "../src/services/api-keys/create-operator-key.ts";
import {
  type Child,
  cpuSecondsOf,
  percentiles,
  postgresCpuSeconds,
  postgresWriteSyscalls,
  REPO,
  rssOf,
  startReceiverProcess,
  startSignalpost,
  writeSyscallsOf,
} from "./processes.ts";

/**
 * `npm run bench`: end-to-end throughput and latency, fan-out, the raw HTTP and pg-boss ceilings
 * side by side, and worker memory under a 100k backlog. Needs the PostgreSQL the tests use
 * (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres); creates and drops its
 * own database. Writes bench/results/<timestamp>.json and prints a table.
 *
 * Knobs (env): BENCH_WORKERS (1), BENCH_APIS (1; publishes go round-robin), BENCH_EVENTS (1000 events × 20 endpoints), BENCH_RATES ("200,100,200x10": events/s, xN = in batches of N),
 * BENCH_RATE_SECONDS (10), BENCH_WARMUP_SECONDS (3, before each latency phase), BENCH_FANOUT ("1000,10000"), BENCH_BACKLOG (100000), BENCH_RSS_SECONDS (30).
 */
const env = process.env;
const num = (k: string, d: number) => (env[k] ? Number(env[k]) : d);
/** One worker: on this 2-core machine it keeps latency far lower than two (README, docs/performance.md). */
const WORKERS = num("BENCH_WORKERS", 1);
const APIS = num("BENCH_APIS", 1);
const EVENTS = num("BENCH_EVENTS", 1000);
const ENDPOINTS = 20;
/**
 * Offered loads of the latency phase: `R` = R events/s as single-event POSTs, `RxB` = R events/s
 * in POSTs of B events each (R/B requests/s). The first is the target's (200).
 */
const RATES = (env.BENCH_RATES ?? env.BENCH_RATE ?? "200,100,200x10")
  .split(",")
  .map((spec) => {
    const [rate = 0, batch = 1] = spec.split("x").map(Number);
    return { rate, batch: Math.max(1, batch) };
  })
  .filter((r) => r.rate > 0);
const RATE_SECONDS = num("BENCH_RATE_SECONDS", 10);
/** Untimed seconds of the same load before each timed latency phase (0: none). */
const WARMUP_SECONDS = num("BENCH_WARMUP_SECONDS", 3);
const FANOUTS = (env.BENCH_FANOUT ?? "1000,10000").split(",").map(Number).filter(Boolean);
const BACKLOG = num("BENCH_BACKLOG", 100_000);
const RSS_SECONDS = num("BENCH_RSS_SECONDS", 30);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

async function main(): Promise<void> {
  const adminUrl = env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const dbName = `sp_bench_${Date.now().toString(36)}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${dbName}`);
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  const dbUrl = url.toString();
  const results: Record<string, unknown> = {};
  const children: Child[] = [];
  let deps: Deps | null = null;
  const receiverSecret = generateSecret();
  const receiver = await startReceiverProcess(receiverSecret);
  try {
    await runMigrations(dbUrl);
    const spEnv: Record<string, string> = {
      DATABASE_URL: dbUrl,
      ENCRYPTION_KEY: randomBytes(32).toString("base64"),
      LOG_LEVEL: "warn",
      SSRF_ALLOW_CIDRS: "127.0.0.1/32",
      // A publisher's key sized for 5x the highest offered load (leases of 20 units: see
      // BucketLeases), not an unlimited one, so the rate limit costs what it would in production.
      RATE_LIMIT_PER_SECOND: "1000",
      RATE_LIMIT_TENANT_PER_SECOND: "1000",
      MAINTENANCE_CRON: "0 0 1 1 *",
      ...Object.fromEntries(
        Object.entries(env)
          .filter(([k]) => k.startsWith("SP_BENCH_ENV_"))
          .map(([k, v]) => [k.slice(13), v ?? ""]),
      ),
    };
    const config = loadConfig(spEnv);
    deps = await buildDeps(config, dbUrl, { logger: createLogger("warn"), supervise: false, poolMax: 10 });
    const { token } = await createOperatorKey(deps.db, "bench");

    results.rawHttp = await rawHttpCeiling(receiver.url);
    log(`raw HTTP: ${JSON.stringify(results.rawHttp)}`);
    results.rawPgBoss = await rawPgBoss(dbUrl);
    log(`raw pg-boss: ${JSON.stringify(results.rawPgBoss)}`);

    const apis: Child[] = [];
    for (let i = 0; i < APIS; i++) apis.push(await startSignalpost("api", spEnv));
    children.push(...apis);
    const workers: Child[] = [];
    for (let i = 0; i < WORKERS; i++) workers.push(await startSignalpost("worker", spEnv));
    children.push(...workers);
    let turn = 0;
    const apiUrl = () => `http://127.0.0.1:${apis[turn++ % apis.length]?.port}`;
    const publish = async (events: unknown[]) => {
      const res = await fetch(`${apiUrl()}/v1/events/batch`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ events }),
      });
      if (res.status !== 202) throw new Error(`publish answered ${res.status}: ${await res.text()}`);
      await res.arrayBuffer().catch(() => {});
    };
    const d = deps;
    /** CPU seconds so far of each part of the system under test, to read a phase's cost per event. */
    const sum = (xs: number[]) => xs.reduce((x, y) => x + y, 0);
    const cpu = async () => ({
      api: sum(await Promise.all(apis.map((a) => cpuSecondsOf(a.child.pid ?? 0)))),
      workers: sum(await Promise.all(workers.map((w) => cpuSecondsOf(w.child.pid ?? 0)))),
      postgres: await postgresCpuSeconds(),
      receiver: await cpuSecondsOf(receiver.pid),
      loadGenerator: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6,
    });
    const writes = async () => ({
      api: sum(await Promise.all(apis.map((a) => writeSyscallsOf(a.child.pid ?? 0)))),
      workers: sum(await Promise.all(workers.map((w) => writeSyscallsOf(w.child.pid ?? 0)))),
      postgres: await postgresWriteSyscalls(),
    });
    const perEvent = (before: Record<string, number>, after: Record<string, number>, events: number) =>
      Object.fromEntries(Object.entries(after).map(([k, v]) => [k, round((v - (before[k] ?? 0)) / events)]));
    const cpuMsPerEvent = (before: Record<string, number>, after: Record<string, number>, events: number) =>
      Object.fromEntries(
        Object.entries(after).map(([k, v]) => [k, round(((v - (before[k] ?? 0)) * 1000) / events)]),
      );

    // End-to-end sustained throughput.
    {
      const tenantId = await makeTenantWithEndpoints(d, receiver.url, ENDPOINTS, receiverSecret);
      await receiver.stats(true);
      const total = EVENTS * ENDPOINTS;
      const cpuBefore = await cpu();
      const started = Date.now();
      const batches = Array.from({ length: Math.ceil(EVENTS / 100) }, (_, b) =>
        Array.from({ length: Math.min(100, EVENTS - b * 100) }, (_, i) => ({
          type: "webhook.test",
          tenantId,
          data: { endpointId: "ep_bench", message: "bench", b, i, pad: "x".repeat(500) },
        })),
      );
      for (const batch of batches) await publish(batch);
      const publishedIn = Date.now() - started;
      const s = await waitForCount(receiver, total, 600_000);
      const seconds = (s.lastAt - started) / 1000;
      const cpuAfter = await cpu();
      const [{ attempts = 0, deliveries = 0 } = {}] = await d.sql<{ attempts: number; deliveries: number }[]>`
        select (select count(*)::int from attempts where tenant_id = ${tenantId}) as attempts,
               (select count(*)::int from deliveries where tenant_id = ${tenantId} and status = 'succeeded') as deliveries`;
      results.throughput = {
        deliveries: total,
        seconds: round(seconds),
        deliveriesPerSecond: Math.round(total / seconds),
        publishMs: publishedIn,
        verified: s.verified,
        rejected: s.rejected,
        duplicates: s.duplicates,
        attemptRows: attempts,
        succeededRows: deliveries,
        latencyMs: s.latencies,
        cpuMsPerDelivery: cpuMsPerEvent(cpuBefore, cpuAfter, total),
      };
      log(`throughput: ${JSON.stringify(results.throughput)}`);
    }

    // What the system costs doing nothing (idle polls, maintenance), so per-event costs read right.
    {
      const before = await cpu();
      await sleep(5000);
      results.idleCpuMsPerSecond = cpuMsPerEvent(before, await cpu(), 5);
      log(`idle: ${JSON.stringify(results.idleCpuMsPerSecond)}`);
    }

    // Publish→receipt latency at fixed offered loads, one event per API call or in small batches.
    // Each timed phase follows WARMUP_SECONDS of the same load (reported on its own): a process's
    // first second on a request shape it has not served yet runs unoptimized code (V8 tiers up
    // hot functions after thousands of calls) and prepares statements on each pooled connection.
    const offer = async (RATE: number, batch: number, seconds: number) => {
      const tenantId = await makeTenantWithEndpoints(d, receiver.url, 1, receiverSecret);
      await receiver.stats(true);
      const n = RATE * seconds;
      const requests = Math.ceil(n / batch);
      const cpuBefore = await cpu();
      const writesBefore = await writes();
      const started = Date.now();
      const inflight: Promise<void>[] = [];
      let publishErrors = 0;
      /** When the request carrying each event was sent, by event id (from the 202's body). */
      const sentAt = new Map<string, number>();
      const event = (i: number) => ({
        type: "webhook.test",
        tenantId,
        data: { endpointId: "ep_bench", message: "bench", i },
      });
      for (let k = 0; k < requests; k++) {
        const due = started + (k * batch * 1000) / RATE;
        const wait = due - Date.now();
        if (wait > 0) await sleep(wait);
        const ids = Array.from({ length: Math.min(batch, n - k * batch) }, (_, j) => k * batch + j);
        const sent = Date.now();
        inflight.push(
          post(
            `${apiUrl()}/v1/events${batch > 1 ? "/batch" : ""}`,
            token,
            JSON.stringify(batch > 1 ? { events: ids.map(event) } : event(k)),
          )
            .then(({ status, body }) => {
              if (status !== 202) {
                publishErrors += ids.length;
                return;
              }
              const parsed = JSON.parse(body) as { id?: string; data?: { id: string }[] };
              for (const e of parsed.data ?? [parsed]) if (e.id) sentAt.set(e.id, sent);
            })
            .catch(() => {
              publishErrors += ids.length;
            }),
        );
      }
      await Promise.all(inflight);
      const answeredSeconds = (Date.now() - started) / 1000;
      const s = await waitForCount(receiver, n - publishErrors, 120_000);
      const cpuAfter = await cpu();
      const writesAfter = await writes();
      const receipts = await receiver.receipts();
      const timed = [...sentAt].flatMap(([id, at]) =>
        receipts[id] !== undefined ? [{ at, ms: (receipts[id] ?? 0) - at }] : [],
      );
      // Request sent→receipt p99 per second of the phase (by send time): a warm-up or a stall shows
      // as one bad second, saturation as a tail that grows over the phase.
      const perSecond = Array.from({ length: seconds }, (_, sec) =>
        percentiles(timed.filter((t) => Math.floor((t.at - started) / 1000) === sec).map((t) => t.ms)),
      ).map((p) => p?.p99 ?? null);
      return {
        offeredPerSecond: RATE,
        eventsPerRequest: batch,
        // Events the API had accepted per second: below RATE means the API was the limit.
        answeredPerSecond: Math.round(n / answeredSeconds),
        events: n,
        publishErrors,
        // From the moment the publisher sent the request (what a publisher sees: includes the time
        // the request waited for the API) …
        requestToReceiptMs: percentiles(timed.map((t) => t.ms)),
        requestToReceiptP99BySecond: perSecond,
        // … and from the moment the API created the event (the event id's ULID time).
        publishToReceiptMs: s.latencies,
        // The slowest receipts, as [seconds into the phase, latency ms]: a tail from one stall
        // shows as neighbours in time, a saturated one spreads over the phase.
        slowest: s.slowest.map((x) => [round((x.at - started) / 1000), x.ms]),
        startedAt: new Date(started).toISOString(),
        // CPU each part used for this phase, per event (ms); 2 cores give 2,000 ms per second.
        cpuMsPerEvent: cpuMsPerEvent(cpuBefore, cpuAfter, n),
        // Write system calls per event (≈ socket writes: round trips to Postgres, HTTP messages).
        writeSyscallsPerEvent: perEvent(writesBefore, writesAfter, n),
      };
    };
    results.latency = [];
    for (const { rate, batch } of RATES) {
      const warmup = WARMUP_SECONDS > 0 ? await offer(rate, batch, WARMUP_SECONDS) : null;
      if (warmup)
        log(
          `warm-up ${rate}/s x${batch}: ${JSON.stringify({
            requestToReceiptMs: warmup.requestToReceiptMs,
            requestToReceiptP99BySecond: warmup.requestToReceiptP99BySecond,
          })}`,
        );
      const r = {
        ...(await offer(rate, batch, RATE_SECONDS)),
        ...(warmup
          ? {
              warmup: {
                seconds: WARMUP_SECONDS,
                requestToReceiptMs: warmup.requestToReceiptMs,
                requestToReceiptP99BySecond: warmup.requestToReceiptP99BySecond,
              },
            }
          : {}),
      };
      (results.latency as unknown[]).push(r);
      log(`latency: ${JSON.stringify(r)}`);
    }

    // Fan-out: one event to N endpoints.
    results.fanout = [];
    for (const n of FANOUTS) {
      const tenantId = await makeTenantWithEndpoints(d, receiver.url, n, receiverSecret);
      await receiver.stats(true);
      const started = Date.now();
      await publish([
        { type: "webhook.test", tenantId, data: { endpointId: "ep_bench", message: "bench", fanout: n } },
      ]);
      const s = await waitForCount(receiver, n, 600_000);
      const r = { endpoints: n, msUntilAllReceived: s.lastAt - started, duplicates: s.duplicates };
      (results.fanout as unknown[]).push(r);
      log(`fan-out: ${JSON.stringify(r)}`);
    }

    // Worker memory with a backlog of pending deliveries.
    {
      for (const w of workers) await w.stop();
      const tenantId = await makeTenantWithEndpoints(d, `${receiver.url}?backlog`, 100, receiverSecret);
      const started = Date.now();
      await makeBacklog(d, tenantId, BACKLOG);
      log(`backlog of ${BACKLOG} created in ${Date.now() - started} ms`);
      await receiver.stats(true);
      const w = await startSignalpost("worker", spEnv);
      children.push(w);
      const pid = w.child.pid ?? 0;
      let peak = 0;
      /** What V8 and Node said about their memory (the worker's /metrics) at the highest RSS sample. */
      let atPeak: Record<string, number> = {};
      const until = Date.now() + RSS_SECONDS * 1000;
      while (Date.now() < until) {
        const rss = (await rssOf(pid)).rssMb;
        if (rss > peak) {
          peak = rss;
          atPeak = await memoryMetrics(w.port).catch(() => ({}));
        }
        await sleep(250);
      }
      const final = await rssOf(pid);
      const s = await receiver.stats();
      results.backlogRss = {
        backlog: BACKLOG,
        sampledSeconds: RSS_SECONDS,
        peakRssMb: round(Math.max(peak, final.peakMb)),
        drainedInWindow: s.received,
        drainPerSecond: Math.round(s.received / RSS_SECONDS),
        memoryAtPeakMb: atPeak,
      };
      log(`backlog RSS: ${JSON.stringify(results.backlogRss)}`);
    }
  } finally {
    for (const c of children) await c.stop().catch(() => {});
    if (deps) await closeDeps(deps, { graceful: false });
    await receiver.stop();
    await admin.unsafe(`drop database if exists ${dbName} with (force)`).catch(() => {});
    await admin.end();
  }

  const report = {
    at: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      model: os.cpus()[0]?.model,
      loadavg: os.loadavg().map(round),
      node: process.version,
    },
    settings: {
      workers: WORKERS,
      apis: APIS,
      events: EVENTS,
      endpoints: ENDPOINTS,
      rates: RATES,
      rateSeconds: RATE_SECONDS,
      backlog: BACKLOG,
    },
    results,
  };
  await mkdir(join(REPO, "bench/results"), { recursive: true });
  const file = join(REPO, "bench/results", `${report.at.replace(/[:.]/g, "-")}.json`);
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  printTable(report.results);
  process.stdout.write(`\nwritten to ${file}\n`);
}

/** A tenant with `n` endpoints at `url` (all sharing one signing secret), inserted in bulk. */
async function makeTenantWithEndpoints(deps: Deps, url: string, n: number, secret: string): Promise<string> {
  const tenantId = newId("ten");
  await deps.sql`insert into tenants (id, name) values (${tenantId}, ${`bench ${n}`})`;
  const enc = deps.keyring.encrypt(secret);
  for (let i = 0; i < n; i += 5000) {
    const ids = Array.from({ length: Math.min(5000, n - i) }, () => newId("ep"));
    await deps.sql`insert into endpoints ${deps.sql(ids.map((id, j) => ({ id, tenant_id: tenantId, url: `${url}${url.includes("?") ? "&" : "?"}n=${i + j}` })))}`;
    await deps.sql`insert into endpoint_secrets ${deps.sql(ids.map((id) => ({ id: newId("whs"), endpoint_id: id, key_id: enc.keyId, ciphertext: enc.ciphertext })))}`;
  }
  return tenantId;
}

/** V8 heap, external and array-buffer memory of a Signalpost process, from its /metrics (MB). */
async function memoryMetrics(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const read = (name: string) =>
    Number(new RegExp(`^signalpost_${name} ([0-9.e+]+)$`, "m").exec(text)?.[1] ?? NaN);
  return Object.fromEntries(
    [
      ["heapTotal", "nodejs_heap_size_total_bytes"],
      ["heapUsed", "nodejs_heap_size_used_bytes"],
      ["external", "nodejs_external_memory_bytes"],
      ["rss", "process_resident_memory_bytes"],
    ].map(([k, m]) => [k, round(read(m as string) / 2 ** 20)]),
  );
}

/** `total` pending deliveries with their jobs, written directly (as fan-out would), in chunks. */
async function makeBacklog(deps: Deps, tenantId: string, total: number): Promise<void> {
  const endpoints = await deps.sql<{ id: string }[]>`select id from endpoints where tenant_id = ${tenantId}`;
  const perEvent = endpoints.length;
  for (let done = 0; done < total; ) {
    const events = Math.max(1, Math.floor(Math.min(5000, total - done) / perEvent));
    await deps.db.transaction(async (tx) => {
      const rows = Array.from({ length: events }, () => ({ id: newId("evt") }));
      const evRows = rows.map((r, i) => ({
        id: r.id,
        type: "webhook.test",
        tenantId,
        body: JSON.stringify({ type: "webhook.test", timestamp: new Date().toISOString(), data: { i } }),
        occurredAt: new Date(),
      }));
      const { events: eventsTable, deliveries } = await import("../db/schema/index.ts");
      await tx.insert(eventsTable).values(evRows);
      const dRows = rows.flatMap((r) =>
        endpoints.map((e) => ({
          id: newId("dlv"),
          eventId: r.id,
          endpointId: e.id,
          tenantId,
          eventType: "webhook.test",
          nextAttemptAt: new Date(),
        })),
      );
      await tx.insert(deliveries).values(dRows);
      await enqueueDeliveries(
        deps.boss,
        tx,
        dRows.map((x) => ({
          deliveryId: x.id,
          generation: 0,
          trigger: "scheduled" as const,
          endpointId: x.endpointId,
        })),
      );
    });
    done += events * perEvent;
  }
}

async function waitForCount(
  receiver: Awaited<ReturnType<typeof startReceiverProcess>>,
  n: number,
  timeoutMs: number,
) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const s = await receiver.stats();
    if (s.received >= n) return s;
    if (Date.now() > until) throw new Error(`receiver got ${s.received} of ${n} in ${timeoutMs} ms`);
    await sleep(50);
  }
}

/**
 * The latency phase's publisher: node:http with keep-alive sockets, which costs this process a
 * third of what fetch (undici) does per request; the load generator shares the two cores with the
 * system under test, so its own CPU per request shows up in every latency it measures.
 */
const publishAgent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function post(url: string, token: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: "POST",
        agent: publishAgent,
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          text += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** The same receiver, hammered by 64 keep-alive sockets from this process for 5 s, no database. */
async function rawHttpCeiling(url: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const body = JSON.stringify({
    type: "webhook.test",
    timestamp: new Date().toISOString(),
    data: { pad: "x".repeat(600) },
  });
  const target = new URL(url);
  let done = 0;
  const until = Date.now() + 5000;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const req = http.request(
        {
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: "POST",
          agent,
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve());
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  const started = Date.now();
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (Date.now() < until) {
        await one();
        done++;
      }
    }),
  );
  agent.destroy();
  return { requests: done, requestsPerSecond: Math.round(done / ((Date.now() - started) / 1000)) };
}

/**
 * pg-boss alone on the same database: insert 20k jobs, then drain them as the dispatcher does
 * (fetch a batch of 100, complete it) from 4 concurrent loops, with a no-op handler.
 */
async function rawPgBoss(dbUrl: string) {
  const boss = new PgBoss({
    connectionString: dbUrl,
    schema: BOSS_SCHEMA,
    max: 10,
    supervise: false,
    schedule: false,
  });
  boss.on("error", () => {});
  await boss.start();
  const queue = "bench-noop";
  await boss.createQueue(queue);
  const n = 20_000;
  const insertStarted = Date.now();
  for (let i = 0; i < n; i += 1000)
    await boss.insert(
      queue,
      Array.from({ length: 1000 }, (_, j) => ({ data: { i: i + j } })),
    );
  const insertMs = Date.now() - insertStarted;
  let done = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (;;) {
        const jobs = await boss.fetch(queue, { batchSize: 100 });
        if (jobs.length === 0) return;
        await boss.complete(
          queue,
          jobs.map((j) => j.id),
        );
        done += jobs.length;
      }
    }),
  );
  const seconds = (Date.now() - started) / 1000;
  await boss.stop({ graceful: false, close: true });
  return {
    jobs: done,
    insertPerSecond: Math.round(n / (insertMs / 1000)),
    workedPerSecond: Math.round(done / seconds),
  };
}

const round = (x: number) => Math.round(x * 100) / 100;

function printTable(r: Record<string, unknown>) {
  const get = (path: string): unknown =>
    path
      .split(".")
      .reduce<unknown>(
        (o, k) => (o && typeof o === "object" ? (o as Record<string, unknown>)[k] : undefined),
        r,
      );
  const fanout = (get("fanout") as { endpoints: number; msUntilAllReceived: number }[] | undefined) ?? [];
  type Latency = {
    offeredPerSecond: number;
    eventsPerRequest: number;
    answeredPerSecond: number;
    publishToReceiptMs: { p50: number; p95: number; p99: number };
    requestToReceiptMs: { p50: number; p95: number; p99: number } | null;
    warmup?: { seconds: number; requestToReceiptMs: { p50: number; p95: number; p99: number } | null };
  };
  const latency = (get("latency") as Latency[] | undefined) ?? [];
  const rows: [string, string, string][] = [
    ["raw HTTP ceiling (no DB)", `${get("rawHttp.requestsPerSecond")} req/s`, ""],
    [
      "raw pg-boss (insert / no-op work)",
      `${get("rawPgBoss.insertPerSecond")} / ${get("rawPgBoss.workedPerSecond")} jobs/s`,
      "",
    ],
    ["end-to-end deliveries/s (every attempt logged)", `${get("throughput.deliveriesPerSecond")}`, "≥ 1000"],
    [
      "  duplicates / signature failures",
      `${get("throughput.duplicates")} / ${get("throughput.rejected")}`,
      "0 / 0",
    ],
    ...latency.flatMap((l, i): [string, string, string][] => {
      const load = `${l.offeredPerSecond} ev/s${l.eventsPerRequest > 1 ? ` in POSTs of ${l.eventsPerRequest}` : ""}`;
      const ms = (x: { p50: number; p95: number; p99: number } | null) =>
        x ? `${x.p50} / ${x.p95} / ${x.p99} ms` : "—";
      return [
        [
          `request sent→receipt p50/p95/p99, ${load} (${l.answeredPerSecond}/s answered)`,
          ms(l.requestToReceiptMs),
          i === 0 ? "p99 ≤ 100 ms at 200/s" : "",
        ],
        [`  event created→receipt, same`, ms(l.publishToReceiptMs), ""],
        ...(l.warmup
          ? [
              [
                `  the ${l.warmup.seconds} s warm-up before it, request sent→receipt`,
                ms(l.warmup.requestToReceiptMs),
                "",
              ] as [string, string, string],
            ]
          : []),
      ];
    }),
    ...fanout.map((f): [string, string, string] => [
      `fan-out to ${f.endpoints} endpoints`,
      `${f.msUntilAllReceived} ms`,
      f.endpoints === 1000 ? "≤ 2000 ms" : "",
    ]),
    [`worker peak RSS, ${BACKLOG} backlog`, `${get("backlogRss.peakRssMb")} MB`, "< 300 MB"],
  ];
  const w0 = Math.max(...rows.map((x) => x[0].length));
  const w1 = Math.max(...rows.map((x) => x[1].length));
  process.stdout.write(`\n${"measure".padEnd(w0)}  ${"result".padEnd(w1)}  target\n`);
  for (const [a, b, c] of rows) process.stdout.write(`${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
