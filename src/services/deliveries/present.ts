import type { Attempt, Delivery, DeliveryStatus } from "../../../db/schema/index.ts";

export type DeliveryView = {
  id: string;
  eventId: string;
  endpointId: string;
  tenantId: string;
  eventType: string;
  status: DeliveryStatus;
  attemptCount: number;
  nextAttemptAt: string | null;
  lastAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  completedAt: string | null;
  createdAt: string;
  updatedAt: string;
};

export type AttemptView = {
  id: string;
  number: number;
  trigger: Attempt["trigger"];
  outcome: Attempt["outcome"];
  url: string;
  startedAt: string;
  durationMs: number;
  statusCode: number | null;
  errorClass: string | null;
  errorMessage: string | null;
  requestHeaders: Record<string, string>;
  responseHeaders: Record<string, string> | null;
  responseBody: string | null;
  responseTruncated: boolean;
};

const iso = (d: Date | null) => d?.toISOString() ?? null;

export function toDeliveryView(d: Delivery): DeliveryView {
  return {
    id: d.id,
    eventId: d.eventId,
    endpointId: d.endpointId,
    tenantId: d.tenantId,
    eventType: d.eventType,
    status: d.status,
    attemptCount: d.attemptCount,
    nextAttemptAt: iso(d.nextAttemptAt),
    lastAttemptAt: iso(d.lastAttemptAt),
    lastStatusCode: d.lastStatusCode,
    lastError: d.lastError,
    completedAt: iso(d.completedAt),
    createdAt: d.createdAt.toISOString(),
    updatedAt: d.updatedAt.toISOString(),
  };
}

/** Attempt rows as logged (sensitive request header values were masked when written). */
export function toAttemptView(a: Attempt): AttemptView {
  return {
    id: a.id,
    number: a.number,
    trigger: a.trigger,
    outcome: a.outcome,
    url: a.url,
    startedAt: a.startedAt.toISOString(),
    durationMs: a.durationMs,
    statusCode: a.statusCode,
    errorClass: a.errorClass,
    errorMessage: a.errorMessage,
    requestHeaders: a.requestHeaders,
    responseHeaders: a.responseHeaders,
    responseBody: a.responseBody,
    responseTruncated: a.responseTruncated,
  };
}
