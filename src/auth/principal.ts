/** Every scope a key or token can carry. Operator-only scopes are refused on tenant keys. */
export const SCOPES = [
  "tenants:admin",
  "keys:read",
  "keys:write",
  "endpoints:read",
  "endpoints:write",
  "events:read",
  "events:write",
  "event-types:write",
  "deliveries:read",
  "deliveries:write",
  "signals:read",
  "signals:write",
  "audit:read",
] as const;
export type Scope = (typeof SCOPES)[number];

/** Scopes only an operator principal may hold. */
export const OPERATOR_ONLY_SCOPES: readonly Scope[] = [
  "tenants:admin",
  "events:write",
  "event-types:write",
  "signals:write",
];

export const TENANT_SCOPES: readonly Scope[] = SCOPES.filter((s) => !OPERATOR_ONLY_SCOPES.includes(s));

/** Who is calling: resolved from an API key or a JWT access token. */
export type Principal = {
  /** key id (for API keys) or client id (for OAuth tokens, which is the key id too) */
  keyId: string;
  role: "operator" | "tenant";
  /** null for operators */
  tenantId: string | null;
  scopes: readonly Scope[];
  via: "api_key" | "jwt";
};
