import { and, eq, isNull, lt, or } from "drizzle-orm";
import { type ApiKey, apiKeys, tenants } from "../../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { UnauthorizedError } from "../errors/index.ts";
import { checkIpAllowed } from "./ip-allowlist.ts";

/** `last_used_at` is written at most this often per key, to keep reads read-only. */
const LAST_USED_GRANULARITY_MS = 60_000;

export type KeyRow = { key: ApiKey; tenantDeletedAt: Date | null };

/**
 * One API key with its tenant's deletion time (one indexed lookup), by its token's lookup prefix
 * or its id, from this process's cache when there (deps.caches: dropped the moment the key or its
 * tenant changes). Unknown keys are not cached.
 */
export async function loadKey(deps: Deps, by: { prefix: string } | { id: string }): Promise<KeyRow | null> {
  const cacheKey = "prefix" in by ? `prefix:${by.prefix}` : `id:${by.id}`;
  const cached = deps.caches.keys.get(cacheKey) as KeyRow | undefined;
  if (cached) return cached;
  const [row] = await deps.db
    .select({ key: apiKeys, tenantDeletedAt: tenants.deletedAt })
    .from(apiKeys)
    .leftJoin(tenants, eq(tenants.id, apiKeys.tenantId))
    .where("prefix" in by ? eq(apiKeys.prefix, by.prefix) : eq(apiKeys.id, by.id))
    .limit(1);
  if (!row) return null;
  const tags = [`key:${row.key.id}`, ...(row.key.tenantId ? [`tenant:${row.key.tenantId}`] : [])];
  deps.caches.keys.set(cacheKey, row, tags);
  return row;
}

/** Why a key cannot be used now, or null when it can. Shared by API keys, the token endpoint and JWTs. */
export function keyUnusableReason(row: KeyRow, now: Date): string | null {
  const key = row.key;
  if (key.revokedAt && key.revokedAt <= now) return "this API key has been revoked";
  if (key.expiresAt && key.expiresAt <= now) return "this API key has expired";
  if (key.role === "tenant" && (!key.tenantId || row.tenantDeletedAt)) return "invalid credentials";
  return null;
}

/**
 * Throws 401 when the key is revoked, expired or its tenant is gone, 403 when the client IP is
 * outside the key's allowlist. Only call this after the caller proved it holds the key.
 */
export function assertKeyUsable(row: KeyRow, now: Date, clientIp: string | null): void {
  const reason = keyUnusableReason(row, now);
  if (reason) throw new UnauthorizedError(reason);
  checkIpAllowed(row.key.ipAllowlist, clientIp);
}

/** Records use of a key, at most once a minute (a conditional update, so concurrent requests write once). */
export async function touchLastUsed(deps: Deps, key: ApiKey, now: Date): Promise<void> {
  if (key.lastUsedAt && now.getTime() - key.lastUsedAt.getTime() <= LAST_USED_GRANULARITY_MS) return;
  const stale = new Date(now.getTime() - LAST_USED_GRANULARITY_MS);
  // The row may be the cached one: it records the write too, so the next minute's requests skip it.
  key.lastUsedAt = now;
  await deps.db
    .update(apiKeys)
    .set({ lastUsedAt: now })
    .where(and(eq(apiKeys.id, key.id), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, stale))));
}
