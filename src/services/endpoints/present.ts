import type { Endpoint } from "../../../db/schema/index.ts";
import { isSensitiveHeader } from "../../delivery/headers.ts";

/** What a sensitive custom header's value reads back as. Sending it back in an update keeps the stored value. */
export const MASK = "********";

export type EndpointView = {
  id: string;
  tenantId: string;
  url: string;
  description: string;
  eventTypes: string[] | null;
  symbols: string[] | null;
  headers: Record<string, string>;
  metadata: Record<string, string>;
  disabled: boolean;
  disabledReason: string | null;
  rateLimitPerSecond: number | null;
  maxConcurrency: number | null;
  retrySchedule: number[] | null;
  failingSince: string | null;
  createdAt: string;
  updatedAt: string;
};

/** Custom headers as shown to callers: values of sensitive names masked. */
export function maskHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, isSensitiveHeader(k) ? MASK : v]));
}

/** The API shape of an endpoint row. Never carries the secret. */
export function toEndpointView(e: Endpoint): EndpointView {
  return {
    id: e.id,
    tenantId: e.tenantId,
    url: e.url,
    description: e.description,
    eventTypes: e.eventTypes,
    symbols: e.symbols,
    headers: maskHeaders(e.headers),
    metadata: e.metadata,
    disabled: e.disabled,
    disabledReason: e.disabledReason,
    rateLimitPerSecond: e.rateLimitPerSecond,
    maxConcurrency: e.maxConcurrency,
    retrySchedule: e.retrySchedule,
    failingSince: e.failingSince?.toISOString() ?? null,
    createdAt: e.createdAt.toISOString(),
    updatedAt: e.updatedAt.toISOString(),
  };
}
