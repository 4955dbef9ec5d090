import type { Tx } from "../../db/client.ts";
import { iso, list, perRowCount, run, values } from "../../db/raw.ts";
import type { AttemptOutcome, AttemptTrigger } from "../../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { recordEndpointHealth } from "../endpoint-health/outcome.ts";
import {
  type DeliverJobInput,
  deliveryJobsWaiting,
  enqueueDeliveries,
  settleDeliveryJobs,
} from "../jobs/enqueue.ts";
import { newId } from "../lib/ids.ts";
import { disableEndpoint } from "../services/endpoints/cancel-pending.ts";
import type { AttemptReport, AttemptResult, Recording } from "./attempt.ts";
import { nextAttemptDelay, parseRetryAfter } from "./retry-policy.ts";

/** One finished attempt waiting to be recorded. */
export type RecordItem = {
  recording: Recording;
  result: AttemptResult;
  outcome: AttemptOutcome;
  masked: Record<string, string>;
  /** The pg-boss job to settle (settleDeliveryJobs) in the recording transaction (the dispatcher's batch path). */
  settle?: { id: string; retryCount: number };
};

/** A delivery's new state, applied only while it still has the generation the job carried. */
type Final = {
  id: string;
  expectedGeneration: number;
  status: "pending" | "succeeded" | "dead";
  completedAt: Date | null;
  nextAt: Date | null;
  generation: number;
  cycleBump: number;
  /** false: leave last_status_code as it is (an aborted attempt). */
  setCode: boolean;
  code: number | null;
  lastError: string | null;
};

/** A delivery's counters right after its attempt was counted. */
type Counted = { id: string; attempt_count: number; generation: number; status: string; cycle_start: number };

/** The deliveries' counters were not what their load predicted: the batch is rolled back and redone. */
class StalePrediction extends Error {}

/**
 * Records finished attempts in ONE transaction, whatever their number: every attempt row (one
 * multi-row insert), each delivery's new state (one UPDATE … FROM VALUES, guarded by the
 * generation and `pending` so a manual retry that took over meanwhile wins and the attempt is
 * only logged), the endpoints' `failing_since` (one statement), circuit bookkeeping (per row, and
 * only where it can change something), 410 Gone handling, the retries' jobs (one insert) and the
 * settling of the jobs that carried the attempts. Same rules as one attempt at a time.
 * At most one item per delivery (the caller guarantees it; checked).
 *
 * The attempt numbers and retry decisions depend on each delivery's counters as the attempt is
 * counted. They are first predicted from the delivery as it was loaded before the request (the
 * usual case: nothing else touched it meanwhile), so the counting goes out in the same round trip
 * as every write (two round trips with COMMIT instead of three); the counting's answer is then
 * compared with the prediction, and on any difference (a manual retry, a lease that expired and was
 * taken over, a delivery deleted) the transaction is rolled back and the batch recorded again with
 * the counters read first.
 */
export async function recordAttemptBatch(deps: Deps, items: readonly RecordItem[]): Promise<AttemptReport[]> {
  if (items.length === 0) return [];
  const ids = items.map((i) => i.recording.delivery.id);
  if (new Set(ids).size !== ids.length)
    throw new Error("recordAttemptBatch: one result per delivery per batch");
  try {
    return await recordInTransaction(deps, items, { predict: true });
  } catch (err) {
    if (!(err instanceof StalePrediction)) throw err;
    return recordInTransaction(deps, items, { predict: false });
  }
}

async function recordInTransaction(
  deps: Deps,
  items: readonly RecordItem[],
  { predict }: { predict: boolean },
): Promise<AttemptReport[]> {
  const { config, logger } = deps;
  const after: (() => void)[] = [];
  const reports = await deps.db.transaction(async (tx): Promise<AttemptReport[]> => {
    after.length = 0;
    const finishedAt = deps.now();
    const count = run<Counted>(
      tx,
      COUNT_ATTEMPTS(items.length, [
        finishedAt.toISOString(),
        ...items.flatMap((i) => [i.recording.delivery.id, i.recording.now.toISOString()]),
      ]),
    );
    // Predicting: the counting is sent now (first, so it takes the deliveries' row locks first, as
    // when it is awaited) and checked once the writes computed from the prediction have gone too.
    const counting = predict ? count.then((rows) => rows) : null;
    // Awaited below; until then a failure must not count as unhandled.
    counting?.catch(() => {});
    const byId: Map<string, Counted> = predict
      ? new Map(
          items.map(({ recording: { delivery: d } }) => [
            d.id,
            {
              id: d.id,
              attempt_count: d.attemptCount + 1,
              generation: d.generation,
              status: d.status,
              cycle_start: d.cycleStart,
            },
          ]),
        )
      : new Map((await count).map((r) => [r.id, r]));

    const attemptRows: AttemptRow[] = [];
    const finals: Final[] = [];
    const retries: DeliverJobInput[] = [];
    const gone = new Map<string, true>();
    /** Per endpoint, in order: clear failing_since (a success), then set it from `setAt` (a later failure). */
    const failing = new Map<string, { clear: boolean; setAt: Date | null }>();
    const health: { endpointId: string; succeeded: boolean }[] = [];
    /** Deliveries whose attempt was superseded by a newer generation (a manual retry meanwhile). */
    const superseded: string[] = [];
    const out: AttemptReport[] = [];

    for (const { recording, result, outcome, masked } of items) {
      const { job, delivery, endpoint, now, skipped } = recording;
      const updated = byId.get(delivery.id);
      if (!updated) {
        out.push(skipped);
        continue;
      }
      const errorClass =
        outcome === "blocked"
          ? "blocked"
          : result.kind === "error"
            ? result.errorClass
            : outcome === "failed"
              ? result.status >= 300 && result.status < 400
                ? "redirect"
                : "http_error"
              : null;
      const location = result.kind === "response" ? result.headers.location : undefined;
      const errorMessage =
        result.kind === "error"
          ? result.message
          : errorClass === "redirect"
            ? `redirect not followed${location ? ` (Location: ${location})` : ""}`
            : null;
      attemptRows.push({
        id: newId("att"),
        deliveryId: delivery.id,
        tenantId: delivery.tenantId,
        endpointId: endpoint.id,
        number: updated.attempt_count,
        trigger: job.trigger,
        outcome,
        url: endpoint.url,
        startedAt: now,
        durationMs: result.durationMs,
        requestHeaders: masked,
        statusCode: result.kind === "response" ? result.status : null,
        errorClass,
        errorMessage,
        responseHeaders: result.kind === "response" ? result.headers : null,
        responseBody: result.kind === "response" ? result.body : null,
        responseTruncated: result.kind === "response" ? result.truncated : false,
      });
      const statusCode = result.kind === "response" ? result.status : null;
      const lastError = errorMessage ?? (outcome === "failed" ? `HTTP ${statusCode}` : null);
      // Another job (a manual retry) took over while this request was in flight: log, change nothing
      // else — except that this attempt, counted above, belongs to the cycle it was made in, not to
      // the one the retry started: that one's start moves past it, so its schedule stays whole.
      if (updated.generation !== job.generation || updated.status !== "pending") {
        if (updated.generation !== job.generation) superseded.push(delivery.id);
        out.push({
          deliveryId: delivery.id,
          endpointId: endpoint.id,
          outcome,
          durationMs: result.durationMs,
          next: "done",
        });
        continue;
      }
      const report: AttemptReport = {
        deliveryId: delivery.id,
        endpointId: endpoint.id,
        outcome,
        durationMs: result.durationMs,
        ...(statusCode !== null ? { status: statusCode } : {}),
      };
      const base = { id: delivery.id, expectedGeneration: updated.generation };
      /** A final state that ends the delivery (no retry), with the status code and error it ended on. */
      const ended = (status: "succeeded" | "dead", code: number | null, error: string | null): Final => ({
        ...base,
        status,
        completedAt: finishedAt,
        nextAt: null,
        generation: updated.generation,
        cycleBump: 0,
        setCode: true,
        code,
        lastError: error,
      });

      if (outcome === "succeeded") {
        finals.push(ended("succeeded", statusCode, null));
        const f = failing.get(endpoint.id);
        if (endpoint.failingSince || f?.setAt) failing.set(endpoint.id, { clear: true, setAt: null });
        health.push({ endpointId: endpoint.id, succeeded: true });
        out.push({ ...report, next: "done" });
        continue;
      }

      if (result.kind === "error" && result.errorClass === "aborted") {
        // Our shutdown, not the receiver's failure: retry at once (another worker picks it up) and
        // start a new cycle at this count, so the schedule's remaining steps are all still there.
        const generation = updated.generation + 1;
        finals.push({
          ...base,
          status: "pending",
          completedAt: null,
          nextAt: finishedAt,
          generation,
          cycleBump: 1,
          setCode: false,
          code: null,
          lastError,
        });
        retries.push({
          deliveryId: delivery.id,
          generation,
          trigger: job.trigger,
          endpointId: endpoint.id,
          maxConcurrency: endpoint.maxConcurrency,
        });
        out.push({ ...report, next: "retry", nextAt: finishedAt });
        continue;
      }

      // A failure of ours (no request made, or one we could not record) says nothing about the receiver.
      const ours =
        result.kind === "error" && (result.errorClass === "internal" || result.errorClass === "no_secret");
      if (!ours) {
        const f = failing.get(endpoint.id) ?? { clear: false, setAt: null };
        if (!f.setAt) failing.set(endpoint.id, { clear: f.clear, setAt: now });
        health.push({ endpointId: endpoint.id, succeeded: false });
      }

      if (statusCode === 410) {
        finals.push(ended("dead", 410, "410 Gone: endpoint disabled"));
        gone.set(endpoint.id, true);
        out.push({ ...report, next: "dead" });
        continue;
      }

      const retryAfterMs =
        result.kind === "response" && (statusCode === 429 || statusCode === 503)
          ? parseRetryAfter(result.headers["retry-after"], finishedAt)
          : null;
      const delay = nextAttemptDelay({
        schedule: endpoint.retrySchedule ?? config.DELIVERY_RETRY_SCHEDULE,
        attemptsInCycle: updated.attempt_count - updated.cycle_start,
        jitter: config.DELIVERY_JITTER,
        retryAfterMs,
        retryAfterMaxMs: config.DELIVERY_RETRY_AFTER_MAX,
      });
      if (delay === null) {
        finals.push(ended("dead", statusCode, lastError));
        out.push({ ...report, next: "dead" });
        continue;
      }
      const nextAt = new Date(finishedAt.getTime() + delay);
      const generation = updated.generation + 1;
      finals.push({
        ...base,
        status: "pending",
        completedAt: null,
        nextAt,
        generation,
        cycleBump: 0,
        setCode: true,
        code: statusCode,
        lastError,
      });
      retries.push({
        deliveryId: delivery.id,
        generation,
        trigger: "scheduled",
        endpointId: endpoint.id,
        maxConcurrency: endpoint.maxConcurrency,
        startAfter: nextAt,
      });
      out.push({ ...report, next: "retry", nextAt });
    }

    const settle = items.flatMap((i) => (i.settle ? [i.settle] : []));
    const jobs = async () => {
      await Promise.all([
        enqueueDeliveries(deps.boss, tx, retries),
        settleDeliveryJobs(deps.boss, settle, tx),
      ]);
    };
    // The statements below depend only on what was computed above: they go out together, one
    // round trip instead of one each, and run in this order on the server (the lock order). With
    // jobs to settle, the same round trip asks whether others wait for the slots they free (the
    // dispatcher fetches again only then).
    const [, , , , , , waitingNow, counted] = await Promise.all([
      attemptRows.length ? insertAttempts(tx, attemptRows) : null,
      applyFinals(tx, finals),
      superseded.length ? run(tx, NEW_CYCLE(superseded.length, superseded)) : null,
      applyFailingSince(tx, failing),
      applyHealth(deps, tx, health),
      gone.size ? null : jobs(),
      settle.length && !gone.size ? deliveryJobsWaiting(tx) : null,
      counting,
    ]).catch(async (err: unknown) => {
      // A write built on a wrong prediction may fail by itself (an attempt of a deleted delivery):
      // the wrong prediction is the news, not the failure it caused.
      const c = await counting?.catch(() => null);
      throw c && !asPredicted(c, byId) ? new StalePrediction() : err;
    });
    if (counted && !asPredicted(counted, byId)) throw new StalePrediction();
    let waiting = waitingNow;
    if (gone.size) {
      // After the final states: a 410 cancels the endpoint's other pending deliveries, including
      // ones just rescheduled in this batch (as if they had been recorded before the 410).
      for (const endpointId of gone.keys()) {
        await disableEndpoint(tx, endpointId, "the receiver answered 410 Gone");
        after.push(() => logger.info({ endpointId }, "endpoint disabled after 410 Gone"));
      }
      await jobs();
      waiting = settle.length ? await deliveryJobsWaiting(tx) : null;
    }
    return items.map((i, n) => {
      const r = out[n] as AttemptReport;
      return i.settle ? { ...r, jobSettled: true, dueJobsWaiting: waiting !== false } : r;
    });
  });
  for (const f of after) f();
  return reports;
}

/** Every delivery was counted, with the counters predicted for it. */
function asPredicted(counted: readonly Counted[], predicted: ReadonlyMap<string, Counted>): boolean {
  return (
    counted.length === predicted.size &&
    counted.every((r) => {
      const p = predicted.get(r.id);
      return (
        p !== undefined &&
        p.attempt_count === r.attempt_count &&
        p.generation === r.generation &&
        p.status === r.status &&
        p.cycle_start === r.cycle_start
      );
    })
  );
}

async function applyFinals(tx: Tx, finals: readonly Final[]): Promise<void> {
  if (finals.length === 0) return;
  await run(
    tx,
    APPLY_FINALS(
      finals.length,
      finals.flatMap((f) => [
        f.id,
        f.expectedGeneration,
        f.status,
        iso(f.completedAt),
        iso(f.nextAt),
        f.generation,
        f.cycleBump,
        f.setCode,
        f.code,
        f.lastError,
      ]),
    ),
  );
}

async function applyFailingSince(
  tx: Tx,
  failing: ReadonlyMap<string, { clear: boolean; setAt: Date | null }>,
): Promise<void> {
  if (failing.size === 0) return;
  // Sorted, so concurrent batches lock endpoint rows in the same order.
  const rows = [...failing.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  await run(
    tx,
    APPLY_FAILING_SINCE(
      rows.length,
      rows.flatMap(([id, f]) => [id, f.clear, iso(f.setAt)]),
    ),
  );
}

/**
 * Circuit bookkeeping in attempt order. A success on an endpoint whose health is clean (no failure
 * run, circuit closed) changes nothing, so one query finds the endpoints where it would.
 */
async function applyHealth(
  deps: Deps,
  tx: Tx,
  ops: readonly { endpointId: string; succeeded: boolean }[],
): Promise<void> {
  if (ops.length === 0) return;
  // By endpoint (stable: each endpoint's outcomes keep their order), so concurrent batches take
  // health rows' locks in the same order.
  const sorted = [...ops].sort((a, b) =>
    a.endpointId < b.endpointId ? -1 : a.endpointId > b.endpointId ? 1 : 0,
  );
  const successIds = [...new Set(sorted.filter((o) => o.succeeded).map((o) => o.endpointId))];
  const dirty = new Set<string>();
  if (successIds.length) {
    const rows = await run<{ endpoint_id: string }>(tx, HEALTH_TO_RESET(successIds.length, successIds));
    for (const r of rows) dirty.add(r.endpoint_id);
  }
  for (const op of sorted) {
    if (op.succeeded && !dirty.has(op.endpointId)) continue;
    await recordEndpointHealth(deps, tx, op.endpointId, op.succeeded);
    if (op.succeeded) dirty.delete(op.endpointId);
    else dirty.add(op.endpointId);
  }
}

/** An `attempts` row as recordInTransaction builds it. */
type AttemptRow = {
  id: string;
  deliveryId: string;
  tenantId: string;
  endpointId: string;
  number: number;
  trigger: AttemptTrigger;
  outcome: AttemptOutcome;
  url: string;
  startedAt: Date;
  durationMs: number;
  requestHeaders: Record<string, string>;
  statusCode: number | null;
  errorClass: string | null;
  errorMessage: string | null;
  responseHeaders: Record<string, string> | null;
  responseBody: string | null;
  responseTruncated: boolean;
};

function insertAttempts(tx: Tx, rows: readonly AttemptRow[]): Promise<unknown> {
  return run(
    tx,
    INSERT_ATTEMPTS(
      rows.length,
      rows.flatMap((r) => [
        r.id,
        r.deliveryId,
        r.tenantId,
        r.endpointId,
        r.number,
        r.trigger,
        r.outcome,
        r.url,
        r.startedAt.toISOString(),
        r.durationMs,
        JSON.stringify(r.requestHeaders),
        r.statusCode,
        r.errorClass,
        r.errorMessage,
        r.responseHeaders === null ? null : JSON.stringify(r.responseHeaders),
        r.responseBody,
        r.responseTruncated,
      ]),
    ),
  );
}

// The batch's statements: constant texts per row count (db/raw.ts), rows as VALUES lists.

/** Counts the attempts: $1 now, then rows of (delivery id, start time). */
const COUNT_ATTEMPTS = perRowCount(
  (n) => `
  update deliveries d
  set attempt_count = d.attempt_count + 1, last_attempt_at = v.started, updated_at = $1::timestamptz
  from (values ${values(n, ["text", "timestamptz"], 2)}) as v(id, started)
  where d.id = v.id
  returning d.id, d.attempt_count, d.generation, d.status, d.cycle_start`,
);

const INSERT_ATTEMPTS = perRowCount(
  (n) => `
  insert into attempts (id, delivery_id, tenant_id, endpoint_id, number, trigger, outcome, url, started_at,
    duration_ms, request_headers, status_code, error_class, error_message, response_headers, response_body,
    response_truncated)
  values ${values(n, [
    "text",
    "text",
    "text",
    "text",
    "int",
    "text",
    "text",
    "text",
    "timestamptz",
    "int",
    "jsonb",
    "int",
    "text",
    "text",
    "jsonb",
    "text",
    "boolean",
  ])}`,
);

/** Superseded attempts' deliveries: the attempts belong to the cycle they were made in. */
const NEW_CYCLE = perRowCount(
  (n) => `update deliveries set cycle_start = cycle_start + 1 where id in (${list(n)})`,
);

/** Final states, applied only while a delivery still has the generation its job carried. */
const APPLY_FINALS = perRowCount(
  (n) => `
  update deliveries d set
    status = v.status,
    completed_at = case when v.status = 'pending' then d.completed_at else v.completed_at end,
    next_attempt_at = v.next_at,
    generation = v.generation,
    cycle_start = d.cycle_start + v.cycle_bump,
    last_status_code = case when v.set_code then v.code else d.last_status_code end,
    last_error = v.last_error
  from (values ${values(n, ["text", "int", "text", "timestamptz", "timestamptz", "int", "int", "boolean", "int", "text"])})
    as v(id, expected_generation, status, completed_at, next_at, generation, cycle_bump, set_code, code, last_error)
  where d.id = v.id and d.generation = v.expected_generation and d.status = 'pending'`,
);

/** Rows of (endpoint id, clear, set_at), sorted by id. */
const APPLY_FAILING_SINCE = perRowCount(
  (n) => `
  update endpoints e set failing_since = case
    when v.set_at is null then null
    when v.clear then v.set_at
    else coalesce(e.failing_since, v.set_at) end
  from (values ${values(n, ["text", "boolean", "timestamptz"])}) as v(id, clear, set_at)
  where e.id = v.id`,
);

/** Of the endpoints given (a success each), those whose health a success changes. */
const HEALTH_TO_RESET = perRowCount(
  (n) => `
  select endpoint_id from endpoint_health
  where endpoint_id in (${list(n)}) and (consecutive_failures > 0 or circuit_state <> 'closed')`,
);
