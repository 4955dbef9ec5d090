import { and, eq, gt, isNull, or, sql } from "drizzle-orm";
import type { Tx } from "../../db/client.ts";
import {
  type AttemptOutcome,
  attempts,
  type Delivery,
  deliveries,
  type Endpoint,
  endpointSecrets,
  endpoints,
  events,
} from "../../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { admitAttempt, postponeDelivery } from "../endpoint-health/admission.ts";
import { recordEndpointHealth } from "../endpoint-health/outcome.ts";
import { enqueueDeliveries } from "../jobs/enqueue.ts";
import type { DeliverJob } from "../jobs/queues.ts";
import { newId } from "../lib/ids.ts";
import { recordAttemptMetrics } from "../metrics/delivery.ts";
import { cancelPendingDeliveries, disableEndpoint } from "../services/endpoints/cancel-pending.ts";
import { isTransientDbError } from "./db-errors.ts";
import { isReservedHeader, USER_AGENT } from "./headers.ts";
import { nextAttemptDelay, parseRetryAfter } from "./retry-policy.ts";
import { type SendResult, sendWebhook } from "./send.ts";
import { signatureHeader } from "./sign.ts";
import { resolveDestination } from "./ssrf.ts";

export type AttemptReport = {
  deliveryId: string;
  endpointId: string | null;
  outcome: AttemptOutcome | "skipped";
  status?: number;
  durationMs?: number;
  next?: "retry" | "dead" | "done";
  /** When the retry is due (next = "retry"). */
  nextAt?: Date;
};

/**
 * What an attempt produced: the request's result, or a failure of ours before any request was made
 * (`no_secret`: nothing to sign with, so nothing is sent; `internal`: an unexpected error, e.g. a
 * secret that no longer decrypts). Both are recorded as failed attempts and follow the schedule.
 */
type AttemptResult =
  | SendResult
  | { kind: "error"; errorClass: "internal" | "no_secret"; message: string; durationMs: number };

/** A secret that cannot be decrypted; the message names ids only, never key material. */
class SigningSecretError extends Error {}

export type AttemptOptions = {
  /**
   * Worker shutdown. Aborted before the request starts: throws (the job is released to the
   * queue). Aborted mid-request: the request is cut, the attempt recorded as `aborted`, and the
   * delivery rescheduled at once without using up a step of its retry schedule.
   */
  signal?: AbortSignal;
};

/**
 * Runs one delivery job: load, re-check, sign, send, and record the attempt together with the
 * delivery's new state and (on failure) the next attempt's job, in one transaction.
 */
export async function runDeliveryAttempt(
  deps: Deps,
  job: DeliverJob,
  opts: AttemptOptions = {},
): Promise<AttemptReport> {
  const { db, logger } = deps;
  const [row] = await db
    .select({ delivery: deliveries, endpoint: endpoints, eventBody: events.body, eventId: events.id })
    .from(deliveries)
    .innerJoin(endpoints, eq(endpoints.id, deliveries.endpointId))
    .innerJoin(events, eq(events.id, deliveries.eventId))
    .where(eq(deliveries.id, job.deliveryId))
    .limit(1);
  if (!row) return { deliveryId: job.deliveryId, endpointId: null, outcome: "skipped" };
  const { delivery, endpoint } = row;
  const skipped: AttemptReport = { deliveryId: delivery.id, endpointId: endpoint.id, outcome: "skipped" };
  // A stale job (superseded by a manual retry/redrive) or a delivery finished or cancelled meanwhile.
  if (delivery.status !== "pending" || delivery.generation !== job.generation) return skipped;
  if (endpoint.deletedAt || endpoint.disabled) {
    await db.transaction((tx) => disableOrCancel(tx, endpoint));
    return skipped;
  }
  const now = deps.now();
  let headers: Record<string, string> = {};
  let result: AttemptResult;
  let outcome: AttemptOutcome;
  try {
    // Open circuit or over the endpoint's rate limit: reschedule without attempting.
    const admission = await admitAttempt(deps, endpoint, job.trigger);
    if (admission.kind === "postpone") {
      await postponeDelivery(deps, delivery, endpoint, job, admission);
      return skipped;
    }
    ({ headers, result, outcome } = await prepareAndSend(deps, row, now, opts.signal));
  } catch (err) {
    // Shutdown before the request started, or a database hiccup: nothing was sent or recorded,
    // and the queue retries the job.
    if (opts.signal?.aborted || isTransientDbError(err)) throw err;
    // Anything else would fail the same way on every retry: record a failed attempt, so the
    // delivery follows its schedule to dead instead of cycling through the queue and the sweeper.
    logger.error(
      { deliveryId: delivery.id, endpointId: endpoint.id, err },
      "delivery attempt failed internally",
    );
    headers = {};
    outcome = "failed";
    result = {
      kind: "error",
      errorClass: "internal",
      message: err instanceof SigningSecretError ? err.message : "internal error while preparing the request",
      durationMs: 0,
    };
  }

  const recording: Recording = { deps, job, delivery, endpoint, now, skipped };
  let report: AttemptReport;
  try {
    report = await recordAttempt(recording, result, outcome, maskedRequestHeaders(headers));
  } catch (err) {
    if (isTransientDbError(err)) throw err;
    // A result that cannot be stored (a bug, a constraint) would fail the same way forever: store
    // the bare fact instead. If even that fails, the queue retries the job.
    logger.error(
      { deliveryId: delivery.id, endpointId: endpoint.id, err },
      "recording the attempt failed; recording it as an internal failure",
    );
    report = await recordAttempt(
      recording,
      {
        kind: "error",
        errorClass: "internal",
        message: "the attempt's result could not be recorded",
        durationMs: result.durationMs,
      },
      "failed",
      {},
    );
  }
  recordAttemptMetrics(deps, report, {
    firstAttempt: delivery.attemptCount === 0,
    eventId: row.eventId,
    startedAt: now,
  });
  return report;
}

/**
 * Signs and sends one delivery: secrets, headers, the SSRF check, the request. Never sends an
 * unsigned request. Throws only on unexpected errors (the caller records those as `internal`).
 */
async function prepareAndSend(
  deps: Deps,
  row: { delivery: { id: string }; endpoint: Endpoint; eventId: string; eventBody: string },
  now: Date,
  signal: AbortSignal | undefined,
): Promise<{ headers: Record<string, string>; result: AttemptResult; outcome: AttemptOutcome }> {
  const { config, logger } = deps;
  const { delivery, endpoint } = row;
  const secrets = await activeSecrets(deps, endpoint.id, now);
  if (secrets.length === 0)
    return {
      headers: {},
      outcome: "failed",
      result: {
        kind: "error",
        errorClass: "no_secret",
        message: "the endpoint has no active signing secret; nothing was sent",
        durationMs: 0,
      },
    };
  const timestamp = Math.floor(now.getTime() / 1000);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(endpoint.headers))
    if (!isReservedHeader(k)) headers[k.toLowerCase()] = v;
  Object.assign(headers, {
    "content-type": "application/json",
    "user-agent": USER_AGENT,
    "webhook-id": row.eventId,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": signatureHeader(secrets, row.eventId, timestamp, row.eventBody),
  });

  const policy = {
    allowCidrs: config.SSRF_ALLOW_CIDRS,
    requireHttps: config.SIGNALPOST_ENV === "production",
  };
  const dest = await resolveDestination(endpoint.url, policy, deps.resolver);
  if (!dest.ok) {
    const outcome: AttemptOutcome = dest.kind === "blocked" ? "blocked" : "failed";
    if (outcome === "blocked")
      logger.warn(
        { deliveryId: delivery.id, endpointId: endpoint.id, reason: dest.reason },
        "delivery blocked by SSRF guard",
      );
    return {
      headers,
      outcome,
      result: {
        kind: "error",
        errorClass: dest.kind === "dns" ? "dns" : "network",
        message: dest.reason,
        durationMs: 0,
      },
    };
  }
  signal?.throwIfAborted();
  const result = await sendWebhook({
    url: dest.url,
    address: dest.address,
    family: dest.family,
    headers,
    body: row.eventBody,
    timeoutMs: config.DELIVERY_TIMEOUT,
    responseCapBytes: config.DELIVERY_RESPONSE_CAP_BYTES,
    ...(signal ? { signal } : {}),
  });
  const outcome: AttemptOutcome =
    result.kind === "response" && result.status >= 200 && result.status < 300 ? "succeeded" : "failed";
  return { headers, result, outcome };
}

type Recording = {
  deps: Deps;
  job: DeliverJob;
  delivery: Delivery;
  endpoint: Endpoint;
  /** When the attempt started. */
  now: Date;
  skipped: AttemptReport;
};

/** Records the attempt with the delivery's new state and (on failure) the next job, in one transaction. */
async function recordAttempt(
  { deps, job, delivery, endpoint, now, skipped }: Recording,
  result: AttemptResult,
  outcome: AttemptOutcome,
  masked: Record<string, string>,
): Promise<AttemptReport> {
  const { db, config, logger } = deps;
  return db.transaction(async (tx): Promise<AttemptReport> => {
    const finishedAt = deps.now();
    const [updated] = await tx
      .update(deliveries)
      .set({ attemptCount: sql`${deliveries.attemptCount} + 1`, lastAttemptAt: now, updatedAt: finishedAt })
      .where(eq(deliveries.id, delivery.id))
      .returning();
    if (!updated) return skipped;
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
    await tx.insert(attempts).values({
      id: newId("att"),
      deliveryId: delivery.id,
      tenantId: delivery.tenantId,
      endpointId: endpoint.id,
      number: updated.attemptCount,
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
    // Another job (a manual retry) took over while this request was in flight: log, change nothing else.
    if (updated.generation !== job.generation || updated.status !== "pending") {
      return {
        deliveryId: delivery.id,
        endpointId: endpoint.id,
        outcome,
        durationMs: result.durationMs,
        next: "done",
      };
    }
    const report: AttemptReport = {
      deliveryId: delivery.id,
      endpointId: endpoint.id,
      outcome,
      durationMs: result.durationMs,
      ...(statusCode !== null ? { status: statusCode } : {}),
    };

    if (outcome === "succeeded") {
      await tx
        .update(deliveries)
        .set({
          status: "succeeded",
          completedAt: finishedAt,
          nextAttemptAt: null,
          lastStatusCode: statusCode,
          lastError: null,
        })
        .where(eq(deliveries.id, delivery.id));
      if (endpoint.failingSince)
        await tx.update(endpoints).set({ failingSince: null }).where(eq(endpoints.id, endpoint.id));
      await recordEndpointHealth(deps, tx, endpoint.id, true);
      return { ...report, next: "done" };
    }

    if (result.kind === "error" && result.errorClass === "aborted") {
      // Our shutdown, not the receiver's failure: retry at once (another worker picks it up) and
      // start a new cycle at this count, so the schedule's remaining steps are all still there.
      const generation = updated.generation + 1;
      const nextAt = finishedAt;
      await tx
        .update(deliveries)
        .set({
          nextAttemptAt: nextAt,
          generation,
          cycleStart: sql`${deliveries.cycleStart} + 1`,
          lastError,
        })
        .where(eq(deliveries.id, delivery.id));
      await enqueueDeliveries(deps.boss, tx, [
        {
          deliveryId: delivery.id,
          generation,
          trigger: job.trigger,
          endpointId: endpoint.id,
          maxConcurrency: endpoint.maxConcurrency,
        },
      ]);
      return { ...report, next: "retry", nextAt };
    }

    // A failure of ours (no request made, or one we could not record) says nothing about the receiver.
    const ours =
      result.kind === "error" && (result.errorClass === "internal" || result.errorClass === "no_secret");
    if (!ours) {
      await tx
        .update(endpoints)
        .set({ failingSince: sql`coalesce(${endpoints.failingSince}, ${now.toISOString()}::timestamptz)` })
        .where(eq(endpoints.id, endpoint.id));
      await recordEndpointHealth(deps, tx, endpoint.id, false);
    }

    if (statusCode === 410) {
      await tx
        .update(deliveries)
        .set({
          status: "dead",
          completedAt: finishedAt,
          nextAttemptAt: null,
          lastStatusCode: 410,
          lastError: "410 Gone: endpoint disabled",
        })
        .where(eq(deliveries.id, delivery.id));
      await disableEndpoint(tx, endpoint.id, "the receiver answered 410 Gone");
      logger.info({ endpointId: endpoint.id }, "endpoint disabled after 410 Gone");
      return { ...report, next: "dead" };
    }

    const retryAfterMs =
      result.kind === "response" && (statusCode === 429 || statusCode === 503)
        ? parseRetryAfter(result.headers["retry-after"], finishedAt)
        : null;
    const delay = nextAttemptDelay({
      schedule: endpoint.retrySchedule ?? config.DELIVERY_RETRY_SCHEDULE,
      attemptsInCycle: updated.attemptCount - updated.cycleStart,
      jitter: config.DELIVERY_JITTER,
      retryAfterMs,
      retryAfterMaxMs: config.DELIVERY_RETRY_AFTER_MAX,
    });
    if (delay === null) {
      await tx
        .update(deliveries)
        .set({
          status: "dead",
          completedAt: finishedAt,
          nextAttemptAt: null,
          lastStatusCode: statusCode,
          lastError,
        })
        .where(eq(deliveries.id, delivery.id));
      return { ...report, next: "dead" };
    }
    const nextAt = new Date(finishedAt.getTime() + delay);
    const generation = updated.generation + 1;
    await tx
      .update(deliveries)
      .set({ nextAttemptAt: nextAt, generation, lastStatusCode: statusCode, lastError })
      .where(eq(deliveries.id, delivery.id));
    await enqueueDeliveries(deps.boss, tx, [
      {
        deliveryId: delivery.id,
        generation,
        trigger: "scheduled",
        endpointId: endpoint.id,
        maxConcurrency: endpoint.maxConcurrency,
        startAfter: nextAt,
      },
    ]);
    return { ...report, next: "retry", nextAt };
  });
}

async function disableOrCancel(tx: Tx, endpoint: Endpoint): Promise<void> {
  await cancelPendingDeliveries(
    tx,
    endpoint.id,
    endpoint.deletedAt ? "endpoint deleted" : "endpoint disabled",
  );
}

/** Decrypted secrets that still sign: the current one and any rotated-out ones inside their grace period. */
async function activeSecrets(deps: Deps, endpointId: string, now: Date): Promise<string[]> {
  const rows = await deps.db
    .select()
    .from(endpointSecrets)
    .where(
      and(
        eq(endpointSecrets.endpointId, endpointId),
        or(isNull(endpointSecrets.expiresAt), gt(endpointSecrets.expiresAt, now)),
      ),
    )
    .orderBy(endpointSecrets.createdAt);
  // Newest first, so the current secret's signature leads.
  return rows.reverse().map((r) => {
    try {
      return deps.keyring.decrypt(r.keyId, r.ciphertext);
    } catch {
      throw new SigningSecretError(
        `signing secret ${r.id} could not be decrypted with encryption key "${r.keyId}"`,
      );
    }
  });
}

/** Request headers as logged in the attempt row: signatures kept (they are not secrets), custom sensitive values masked. */
function maskedRequestHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers))
    out[k] = /authorization|key|token|secret|cookie/i.test(k) ? "********" : v;
  return out;
}
