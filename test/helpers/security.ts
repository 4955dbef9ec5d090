import { ulid } from "ulid";
import type { Db } from "../../db/client.ts";
import { apiKeys, tenants } from "../../db/schema/index.ts";
import { generateApiKeyToken } from "../../src/auth/api-key-token.ts";
import { type Scope, TENANT_SCOPES } from "../../src/auth/principal.ts";
import { newId } from "../../src/lib/ids.ts";

/**
 * Helpers for security tests: tenants and keys written straight to the database (no routes
 * needed), so any route's tests can build "another tenant", "a revoked key", "a key with no
 * scopes" in one line.
 */

export type TestKey = { id: string; token: string; tenantId: string | null };

export type KeyOptions = {
  role?: "operator" | "tenant";
  tenantId?: string | null;
  scopes?: readonly Scope[];
  expiresAt?: Date | null;
  revokedAt?: Date | null;
  ipAllowlist?: string[] | null;
  name?: string;
};

/** Inserts an API key and returns its id and (only) clear token. Default: a tenant key with no scopes. */
export async function createKey(db: Db, opts: KeyOptions = {}): Promise<TestKey> {
  const role = opts.role ?? (opts.tenantId ? "tenant" : "operator");
  const { token, prefix, hash } = generateApiKeyToken();
  const id = newId("key");
  await db.insert(apiKeys).values({
    id,
    tenantId: opts.tenantId ?? null,
    role,
    name: opts.name ?? "security-test",
    prefix,
    secretHash: hash,
    scopes: [...(opts.scopes ?? [])],
    ipAllowlist: opts.ipAllowlist ?? null,
    expiresAt: opts.expiresAt ?? null,
    revokedAt: opts.revokedAt ?? null,
  });
  return { id, token, tenantId: opts.tenantId ?? null };
}

/** Inserts a tenant; returns its id. */
export async function createTenant(db: Db, name = "security-test tenant"): Promise<string> {
  const id = newId("ten");
  await db.insert(tenants).values({ id, name });
  return id;
}

/** A new tenant and a key for it. Default scopes: every scope a tenant may hold. */
export async function createTenantWithKey(
  db: Db,
  scopes: readonly Scope[] = TENANT_SCOPES,
  opts: Omit<KeyOptions, "tenantId" | "role" | "scopes"> = {},
): Promise<TestKey & { tenantId: string }> {
  const tenantId = await createTenant(db);
  const key = await createKey(db, { ...opts, role: "tenant", tenantId, scopes });
  return { ...key, tenantId };
}

/** A syntactically valid id of the given prefix that no row has (fresh ULID). */
export function unusedId(prefix: string): string {
  return `${prefix}_${ulid()}`;
}

/** A well-formed `sp_` token that matches no key. */
export function unknownApiKeyToken(): string {
  return generateApiKeyToken().token;
}
