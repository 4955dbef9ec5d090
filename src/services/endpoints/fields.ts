/** The settable fields of an endpoint, as validated at the edge (header names lower-cased, symbols upper-cased). */
export type EndpointFields = {
  url: string;
  description?: string | undefined;
  eventTypes?: string[] | null | undefined;
  symbols?: string[] | null | undefined;
  headers?: Record<string, string> | undefined;
  metadata?: Record<string, string> | undefined;
  disabled?: boolean | undefined;
  rateLimitPerSecond?: number | null | undefined;
  maxConcurrency?: number | null | undefined;
  retrySchedule?: number[] | null | undefined;
  /** `v1` (HMAC `whsec_`, default) or `v1a` (ed25519 `whsk_`/`whpk_`). */
  signatureScheme?: "v1" | "v1a" | undefined;
};

/** Names of the fields that changed, for audit rows: never values (headers may hold credentials). */
export function changedFieldNames(input: Partial<EndpointFields>): string[] {
  return Object.entries(input)
    .filter(([, v]) => v !== undefined)
    .map(([k]) => k)
    .sort();
}
