import type { Tx } from "../../db/client.ts";
import type { AttemptOutcome, Delivery, Endpoint, EndpointSecret } from "../../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { admitAttempt, postponeDelivery } from "../endpoint-health/admission.ts";
import type { DeliverJob } from "../jobs/queues.ts";
import { recordAttemptMetrics } from "../metrics/delivery.ts";
import { cancelPendingDeliveries } from "../services/endpoints/cancel-pending.ts";
import { isTransientDbError } from "./db-errors.ts";
import { isReservedHeader, USER_AGENT } from "./headers.ts";
import { type LoadedDelivery, loadDeliveries } from "./load.ts";
import { type RecordItem, recordAttemptBatch } from "./record-batch.ts";
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
  /** The job was completed in the recording transaction (AttemptOptions.record with a job). */
  jobSettled?: boolean;
  /** With jobSettled: whether other delivery jobs were due and waiting when it was recorded. */
  dueJobsWaiting?: boolean;
};

/**
 * What an attempt produced: the request's result, or a failure of ours before any request was made
 * (`no_secret`: nothing to sign with, so nothing is sent; `internal`: an unexpected error, e.g. a
 * secret that no longer decrypts). Both are recorded as failed attempts and follow the schedule.
 */
export type AttemptResult =
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
  /**
   * The delivery as loaded by loadDeliveries for the whole fetched batch (null: not found).
   * Omitted: loaded here.
   */
  loaded?: LoadedDelivery | null;
  /** Records the result (e.g. through an AttemptRecorder, batched). Omitted: one transaction of its own. */
  record?: (item: RecordItem) => Promise<AttemptReport>;
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
  const row =
    opts.loaded !== undefined
      ? opts.loaded
      : (await loadDeliveries(deps, [job.deliveryId])).get(job.deliveryId);
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
    const admission = await admitAttempt(deps, endpoint, job.trigger, row.circuitState ?? "closed");
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
    const item: RecordItem = { recording, result, outcome, masked: maskedRequestHeaders(headers) };
    report = await (opts.record ? opts.record(item) : recordAttempt(recording, result, outcome, item.masked));
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
  row: LoadedDelivery,
  now: Date,
  signal: AbortSignal | undefined,
): Promise<{ headers: Record<string, string>; result: AttemptResult; outcome: AttemptOutcome }> {
  const { config, logger } = deps;
  const { delivery, endpoint } = row;
  const secrets = activeSecrets(deps, row.secrets, now);
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

export type Recording = {
  deps: Deps;
  job: DeliverJob;
  delivery: Delivery;
  endpoint: Endpoint;
  /** When the attempt started. */
  now: Date;
  skipped: AttemptReport;
};

/** Records one attempt on its own: a batch of one (see recordAttemptBatch), the job left to the caller. */
async function recordAttempt(
  recording: Recording,
  result: AttemptResult,
  outcome: AttemptOutcome,
  masked: Record<string, string>,
): Promise<AttemptReport> {
  const [report] = await recordAttemptBatch(recording.deps, [{ recording, result, outcome, masked }]);
  return report ?? recording.skipped;
}

async function disableOrCancel(tx: Tx, endpoint: Endpoint): Promise<void> {
  await cancelPendingDeliveries(
    tx,
    endpoint.id,
    endpoint.deletedAt ? "endpoint deleted" : "endpoint disabled",
  );
}

/** Decrypted secrets that still sign: the current one and any rotated-out ones inside their grace period. */
function activeSecrets(deps: Deps, rows: readonly EndpointSecret[], now: Date): string[] {
  // Newest first, so the current secret's signature leads.
  return rows
    .filter((r) => !r.expiresAt || r.expiresAt > now)
    .reverse()
    .map((r) => {
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
