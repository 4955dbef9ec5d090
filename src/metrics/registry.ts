import type { PgBoss } from "pg-boss";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Sql } from "../../db/client.ts";
import { BOSS_SCHEMA } from "../../db/migrate.ts";
import { QUEUES } from "../jobs/queues.ts";

/** Latency buckets (seconds) for delivery paths: sub-millisecond loopback up to the 30 s timeout. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

export type AttemptObservation = {
  outcome: "succeeded" | "failed" | "blocked";
  durationMs: number;
  /** `done`/`dead` end the delivery; `retry` schedules another attempt. */
  next?: "retry" | "dead" | "done";
  /** Set on a delivery's first attempt: seconds from publish to this attempt's start. */
  publishToAttemptMs?: number;
};

/**
 * The process's Prometheus metrics. One registry per Deps (not prom-client's global one), so
 * several apps in one test process never share or double-register series.
 *
 * Counters and histograms are recorded where things happen (delivery attempts, HTTP requests) and
 * are per process: Prometheus sums them across processes. Gauges about shared state (queue
 * depth, open circuits, disabled endpoints) are read from Postgres on scrape, so every process
 * reports the same cluster-wide value: aggregate them with `max`, not `sum`.
 */
export type Metrics = {
  registry: Registry;
  observeAttempt: (o: AttemptObservation) => void;
  observeRequest: (method: string, route: string, status: number, seconds: number) => void;
  /** Delivery jobs postponed instead of attempted (`circuit_open`, `rate_limited`). */
  countPostponed: (reason: "circuit_open" | "rate_limited") => void;
};

export function createMetrics(
  sources: { sql: Sql; boss?: PgBoss },
  opts: { defaults?: boolean } = {},
): Metrics {
  const registry = new Registry();
  if (opts.defaults ?? true) collectDefaultMetrics({ register: registry, prefix: "signalpost_" });

  const attempts = new Counter({
    name: "signalpost_delivery_attempts_total",
    help: "Delivery attempts by outcome (succeeded = 2xx; blocked = refused by the SSRF guard).",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  const finished = new Counter({
    name: "signalpost_deliveries_finished_total",
    help: "Deliveries that reached a final state by an attempt (succeeded, dead).",
    labelNames: ["status"] as const,
    registers: [registry],
  });
  const postponed = new Counter({
    name: "signalpost_delivery_postponed_total",
    help: "Delivery jobs rescheduled without an attempt (open circuit, endpoint rate limit).",
    labelNames: ["reason"] as const,
    registers: [registry],
  });
  const attemptDuration = new Histogram({
    name: "signalpost_delivery_attempt_duration_seconds",
    help: "Duration of each delivery HTTP attempt (connect to response or error).",
    labelNames: ["outcome"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const publishLatency = new Histogram({
    name: "signalpost_publish_to_first_attempt_seconds",
    help: "Time from an event's publication to the start of a delivery's first attempt.",
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const http = new Histogram({
    name: "signalpost_http_request_duration_seconds",
    help: "API request duration by method, route pattern and status.",
    labelNames: ["method", "route", "status"] as const,
    buckets: HTTP_BUCKETS,
    registers: [registry],
  });

  new Gauge({
    name: "signalpost_queue_jobs",
    help: "Jobs per queue and state (queued = created or retrying, of which deferred = not due yet; active = running).",
    labelNames: ["queue", "state"] as const,
    registers: [registry],
    async collect() {
      const rows = await sources.sql<{ name: string; queued: number; deferred: number; active: number }[]>`
        select name,
          count(*) filter (where state in ('created', 'retry'))::int as queued,
          count(*) filter (where state in ('created', 'retry') and start_after > now())::int as deferred,
          count(*) filter (where state = 'active')::int as active
        from ${sources.sql(BOSS_SCHEMA)}.job
        where state in ('created', 'retry', 'active')
        group by name`;
      this.reset();
      const seen = new Map(rows.map((r) => [r.name, r]));
      for (const queue of Object.values(QUEUES)) {
        const r = seen.get(queue);
        this.set({ queue, state: "queued" }, r?.queued ?? 0);
        this.set({ queue, state: "deferred" }, r?.deferred ?? 0);
        this.set({ queue, state: "active" }, r?.active ?? 0);
      }
    },
  });
  new Gauge({
    name: "signalpost_endpoint_circuits_open",
    help: "Endpoints whose circuit breaker is open or half-open (deliveries waiting for a probe).",
    registers: [registry],
    async collect() {
      const [r] = await sources.sql<{ n: number }[]>`
        select count(*)::int as n from endpoint_health where circuit_state <> 'closed'`;
      this.set(r?.n ?? 0);
    },
  });
  new Gauge({
    name: "signalpost_endpoints_disabled",
    help: "Live (not deleted) endpoints that are disabled.",
    registers: [registry],
    async collect() {
      const [r] = await sources.sql<{ n: number }[]>`
        select count(*)::int as n from endpoints where disabled and deleted_at is null`;
      this.set(r?.n ?? 0);
    },
  });

  return {
    registry,
    observeAttempt: (o) => {
      attempts.inc({ outcome: o.outcome });
      attemptDuration.observe({ outcome: o.outcome }, o.durationMs / 1000);
      if (o.next === "done" && o.outcome === "succeeded") finished.inc({ status: "succeeded" });
      if (o.next === "dead") finished.inc({ status: "dead" });
      if (o.publishToAttemptMs !== undefined)
        publishLatency.observe(Math.max(0, o.publishToAttemptMs) / 1000);
    },
    observeRequest: (method, route, status, seconds) => {
      http.observe({ method, route, status: String(status) }, seconds);
    },
    countPostponed: (reason) => postponed.inc({ reason }),
  };
}
