import { inArray } from "drizzle-orm";
import type { Tx } from "../../../db/client.ts";
import { perRowCount, run, values } from "../../../db/raw.ts";
import { events } from "../../../db/schema/index.ts";
import {
  type CachedCandidates,
  endpointsVersion,
  fanOutWithinTransaction,
  inlineCandidates,
  StaleCandidates,
} from "../../delivery/fanout.ts";
import type { Deps } from "../../deps.ts";
import { newId } from "../../lib/ids.ts";

export type NewEvent = {
  /** Chosen by the caller when it must know the id before the insert (newId("evt")). */
  id?: string;
  type: string;
  data: unknown;
  /** null/undefined = every tenant */
  tenantId?: string | null;
  symbol?: string | null;
  /** Event time; defaults to now. */
  occurredAt?: Date;
};

export type StoredEvent = typeof events.$inferSelect;

/**
 * The body every delivery of this event sends, fixed at publish time (Standard Webhooks envelope).
 * JSON.stringify escapes U+2028/2029 nowhere, so they travel as raw UTF-8 and count in content-length.
 */
export function envelope(type: string, occurredAt: Date, data: unknown): string {
  return JSON.stringify({ type, timestamp: occurredAt.toISOString(), data });
}

/**
 * Inserts events and their fan-out in the caller's transaction: their deliveries when few, else a
 * fan-out job (fanOutWithinTransaction). Used by the publish API, the change detector and
 * operational events: a commit has both or neither.
 *
 * `cachedEndpoints` (the publish API): when every event is for one tenant whose candidate
 * endpoints this process has cached, the deliveries go out in the same round trip as the events,
 * with a read of the tenant's endpoints version; if that version is not the cached one, this
 * throws StaleCandidates (the entry is dropped; the caller rolls back and publishes again). Without
 * a usable entry, the candidates are read as always and cached with the version read just before.
 */
export async function insertEvents(
  deps: Deps,
  tx: Tx,
  input: readonly NewEvent[],
  { cachedEndpoints = false } = {},
): Promise<StoredEvent[]> {
  if (input.length === 0) return [];
  const now = deps.now();
  const rows = input.map((e) => {
    const occurredAt = e.occurredAt ?? now;
    return {
      id: e.id ?? newId("evt"),
      type: e.type,
      tenantId: e.tenantId ?? null,
      symbol: e.symbol ?? null,
      body: envelope(e.type, occurredAt, e.data),
      occurredAt,
    };
  });
  const insert = () =>
    run<{ id: string; created_at: string }>(
      tx,
      INSERT_EVENTS(
        rows.length,
        rows.flatMap((r) => [r.id, r.type, r.tenantId, r.symbol, r.body, r.occurredAt.toISOString()]),
      ),
    );
  const stored = (created: readonly { id: string; created_at: string }[]): StoredEvent[] => {
    const createdAt = new Map(created.map((c) => [c.id, new Date(c.created_at)]));
    return rows.map((r) => {
      const at = createdAt.get(r.id);
      if (!at) throw new Error(`insertEvents: no row came back for ${r.id}`);
      return { ...r, createdAt: at };
    });
  };
  const tenant =
    cachedEndpoints && deps.config.FANOUT_INLINE_MAX > 0 && deps.caches.candidates.enabled
      ? onlyTenant(rows)
      : null;
  const cached = tenant ? (deps.caches.candidates.get(tenant) as CachedCandidates | undefined) : undefined;
  if (tenant && cached) {
    // One round trip for the version that vouches for the entry, the rows and their deliveries.
    // The version goes first: when the entry is stale a write may fail because of it (a delivery
    // for an endpoint that is gone), and the stale entry, not that failure, is the news.
    const current = endpointsVersion(tx, tenant);
    const writes = Promise.all([insert(), fanOutWithinTransaction(deps, tx, rows, cached.candidates)]);
    writes.catch(() => {});
    // A failed version read leaves the writes' outcome to speak.
    if ((await current.catch(() => cached.version)) !== cached.version) {
      deps.caches.candidates.delete(tenant);
      throw new StaleCandidates(tenant);
    }
    const [created] = await writes;
    return stored(created);
  }
  // One round trip for the rows and the endpoints they may go to (the version first), one for the
  // deliveries.
  const [version, created, candidates] = await Promise.all([
    tenant ? endpointsVersion(tx, tenant) : null,
    insert(),
    inlineCandidates(deps, tx, rows),
  ]);
  if (tenant) deps.caches.candidates.set(tenant, { version, candidates } satisfies CachedCandidates);
  const inserted = stored(created);
  await fanOutWithinTransaction(deps, tx, inserted, candidates);
  return inserted;
}

/** The one tenant every event is for, or null (an event for every tenant, or several tenants). */
function onlyTenant(rows: readonly { tenantId: string | null }[]): string | null {
  const first = rows[0]?.tenantId ?? null;
  return first !== null && rows.every((r) => r.tenantId === first) ? first : null;
}

/** Events; the body is not sent back (the caller has it). Constant text per row count (db/raw.ts). */
const INSERT_EVENTS = perRowCount(
  (n) => `
  insert into events (id, type, tenant_id, symbol, body, occurred_at)
  values ${values(n, ["text", "text", "text", "text", "text", "timestamptz"])}
  returning id, created_at`,
);

export async function loadEvents(tx: Tx, ids: readonly string[]): Promise<StoredEvent[]> {
  return ids.length
    ? tx
        .select()
        .from(events)
        .where(inArray(events.id, [...ids]))
    : [];
}
