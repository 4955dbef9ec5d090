import { inArray } from "drizzle-orm";
import type { DbOrTx, Tx } from "../../db/client.ts";
import { list, perRowCount, run, values } from "../../db/raw.ts";
import { events } from "../../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { enqueueDeliveries, enqueueFanout } from "../jobs/enqueue.ts";
import { newId } from "../lib/ids.ts";

/** Rows per transaction when one event fans out to many endpoints. */
const CHUNK = 1000;

/** True when an endpoint's event-type filter admits `type`. null = all; `grade.*` matches by prefix; `*` all. */
export function matchesEventType(filter: readonly string[] | null, type: string): boolean {
  if (filter === null) return true;
  return filter.some((f) => f === type || f === "*" || (f.endsWith(".*") && type.startsWith(f.slice(0, -1))));
}

/** Symbol filters apply to events about a symbol; events with no symbol pass. Case-insensitive. */
export function matchesSymbol(filter: readonly string[] | null, symbol: string | null): boolean {
  if (filter === null || symbol === null) return true;
  const s = symbol.toUpperCase();
  return filter.some((f) => f.toUpperCase() === s);
}

/** An event as fan-out needs it. */
export type FanoutEvent = { id: string; tenantId: string | null; type: string; symbol: string | null };

export type Candidate = {
  id: string;
  tenantId: string;
  eventTypes: string[] | null;
  symbols: string[] | null;
  maxConcurrency: number | null;
};
type Target = { event: FanoutEvent; endpoint: Candidate };

/**
 * Creates one delivery per matching live endpoint and enqueues each. Idempotent: a retried
 * fan-out job skips deliveries that exist (unique (event, endpoint)) — and those were enqueued in
 * the same transaction that created them.
 */
export async function fanOutEvent(deps: Deps, eventId: string): Promise<{ deliveries: number }> {
  return fanOutEvents(deps, [eventId]);
}

/**
 * Fans out a batch of events with a handful of queries instead of a handful per event: one read
 * of the events, one of the candidate endpoints, then the deliveries in chunks of CHUNK rows, one
 * transaction each (in event order). `onCommit` runs after each chunk commits, so its deliveries
 * can start at once rather than after the whole batch. Idempotent, as fanOutEvent.
 */
export async function fanOutEvents(
  deps: Deps,
  eventIds: readonly string[],
  opts: { onCommit?: () => void } = {},
): Promise<{ deliveries: number }> {
  const { db } = deps;
  if (eventIds.length === 0) return { deliveries: 0 };
  const found = await db
    .select({ id: events.id, tenantId: events.tenantId, type: events.type, symbol: events.symbol })
    .from(events)
    .where(inArray(events.id, [...eventIds]));
  const byId = new Map(found.map((e) => [e.id, e]));
  const batch = [...new Set(eventIds)].flatMap((id) => byId.get(id) ?? []);
  if (batch.length === 0) return { deliveries: 0 };
  const targets = matchTargets(batch, await candidateEndpoints(db, batch));
  let created = 0;
  for (let i = 0; i < targets.length; i += CHUNK) {
    const chunk = targets.slice(i, i + CHUNK);
    created += await db.transaction((tx) => createDeliveries(deps, tx, chunk));
    opts.onCommit?.();
  }
  return { deliveries: created };
}

/**
 * Fan-out for events just inserted in `tx`. When they match at most FANOUT_INLINE_MAX endpoints in
 * all, their deliveries and delivery jobs are created right here, in the publishing transaction:
 * no fan-out job to insert, wake, fetch and complete, so the first attempt can start the moment
 * the publish commits. Larger fan-outs (and FANOUT_INLINE_MAX=0) enqueue one fan-out job per event
 * instead, for the fan-out worker to create in chunks. Either way the deliveries (or the job that
 * will create them) commit or roll back with the events. `candidates` comes from inlineCandidates
 * (null: too many for an inline fan-out).
 */
export async function fanOutWithinTransaction(
  deps: Deps,
  tx: Tx,
  batch: readonly FanoutEvent[],
  candidates: Candidate[] | null,
): Promise<{ inline: boolean; deliveries: number }> {
  if (batch.length === 0) return { inline: true, deliveries: 0 };
  const targets = candidates ? matchTargets(batch, candidates) : null;
  if (targets && targets.length <= deps.config.FANOUT_INLINE_MAX)
    return { inline: true, deliveries: await createDeliveries(deps, tx, targets, { fresh: true }) };
  await enqueueFanout(
    deps.boss,
    tx,
    batch.map((e) => e.id),
  );
  return { inline: false, deliveries: 0 };
}

/**
 * The candidate endpoints for an inline fan-out, or null when there are more than
 * FANOUT_INLINE_MAX (or it is 0). Needs only the events' tenants, so a caller can run it in the
 * same round trip as the events' insert and hand the result to fanOutWithinTransaction.
 */
export async function inlineCandidates(
  deps: Deps,
  tx: Tx,
  batch: readonly Pick<FanoutEvent, "tenantId">[],
): Promise<Candidate[] | null> {
  const max = deps.config.FANOUT_INLINE_MAX;
  if (max === 0 || batch.length === 0) return null;
  const found = await candidateEndpoints(tx, batch, max + 1);
  return found.length <= max ? found : null;
}

/** A tenant's candidates (null: more than FANOUT_INLINE_MAX) as of its endpoints version (null: none yet). */
export type CachedCandidates = { version: number | null; candidates: Candidate[] | null };

/** Thrown inside a transaction whose fan-out used cached candidates that turned out stale: roll back and redo. */
export class StaleCandidates extends Error {
  constructor(tenantId: string) {
    super(`the endpoints of tenant ${tenantId} changed since they were cached`);
  }
}

/**
 * The tenant's endpoints version (migration 0009: it changes with every change of its endpoints
 * that fan-out would see). Sent BEFORE the candidates it is to vouch for, in the same round trip:
 * the candidates then reflect at least that version, so a cache entry whose version still matches
 * later is never older than the endpoints it describes.
 */
export async function endpointsVersion(db: DbOrTx, tenantId: string): Promise<number | null> {
  const rows = await run<{ version: string | number }>(db, ENDPOINTS_VERSION, [tenantId]);
  return rows[0] ? Number(rows[0].version) : null;
}

const ENDPOINTS_VERSION = "select version from endpoint_versions where tenant_id = $1";

/**
 * Live endpoints of live tenants that may receive the batch: those of the batch's tenants, or of
 * every tenant when an event has none. `limit` caps the rows read (the caller only needs to know
 * whether there are more than it would handle).
 */
async function candidateEndpoints(
  db: DbOrTx,
  batch: readonly Pick<FanoutEvent, "tenantId">[],
  limit?: number,
): Promise<Candidate[]> {
  const tenantIds = batch.some((e) => e.tenantId === null)
    ? null
    : [...new Set(batch.flatMap((e) => e.tenantId ?? []))];
  const rows = await (tenantIds
    ? run<Candidate>(db, TENANTS_CANDIDATES(tenantIds.length, [limit ?? null, ...tenantIds]))
    : run<Candidate>(db, ALL_CANDIDATES, [limit ?? null]));
  // A plain array: a publish may cache it, and postgres.js's result carries statement metadata.
  return Array.from(rows);
}

/**
 * Live endpoints of live tenants, at most $1 (null: no limit). Two texts, not one with
 * `($2 is null or …)`: a prepared statement's generic plan could not use the tenant index.
 */
const CANDIDATES = `
  select e.id, e.tenant_id as "tenantId", e.event_types as "eventTypes", e.symbols,
         e.max_concurrency as "maxConcurrency"
  from endpoints e join tenants t on t.id = e.tenant_id
  where e.deleted_at is null and not e.disabled and t.deleted_at is null`;
const ALL_CANDIDATES = `${CANDIDATES} limit $1::int`;
/** Those of the tenants $2… */
const TENANTS_CANDIDATES = perRowCount(
  (n) => `${CANDIDATES} and e.tenant_id in (${list(n, 2)}) limit $1::int`,
);

function matchTargets(batch: readonly FanoutEvent[], candidates: readonly Candidate[]): Target[] {
  return batch.flatMap((event) =>
    candidates
      .filter(
        (e) =>
          (event.tenantId === null || e.tenantId === event.tenantId) &&
          matchesEventType(e.eventTypes, event.type) &&
          matchesSymbol(e.symbols, event.symbol),
      )
      .map((e) => ({ event, endpoint: e })),
  );
}

/**
 * Inserts the targets' deliveries and enqueues a job for each, in `tx`. Existing deliveries are
 * skipped (a retried fan-out job), and only the rows actually inserted get jobs. `fresh`: the
 * events were inserted in this very transaction, so no delivery of theirs can exist yet and the
 * jobs go out in the same round trip as the rows instead of waiting for `returning`.
 */
async function createDeliveries(
  deps: Deps,
  tx: Tx,
  targets: readonly Target[],
  { fresh = false } = {},
): Promise<number> {
  if (targets.length === 0) return 0;
  const rows = targets.map(({ event, endpoint }) => ({
    id: newId("dlv"),
    eventId: event.id,
    endpointId: endpoint.id,
    tenantId: endpoint.tenantId,
    eventType: event.type,
  }));
  const params = rows.flatMap((r) => [r.id, r.eventId, r.endpointId, r.tenantId, r.eventType]);
  const limits = new Map(targets.map((t) => [t.endpoint.id, t.endpoint.maxConcurrency]));
  const jobsFor = (ds: readonly { id: string; endpointId: string }[]) =>
    enqueueDeliveries(
      deps.boss,
      tx,
      ds.map((d) => ({
        deliveryId: d.id,
        generation: 0,
        trigger: "scheduled" as const,
        endpointId: d.endpointId,
        maxConcurrency: limits.get(d.endpointId) ?? null,
      })),
    );
  if (fresh) {
    await Promise.all([run(tx, INSERT_DELIVERIES(rows.length, params)), jobsFor(rows)]);
    return rows.length;
  }
  const inserted = await run<{ id: string; endpointId: string }>(
    tx,
    INSERT_NEW_DELIVERIES(rows.length, params),
  );
  await jobsFor(inserted);
  return inserted.length;
}

/** Deliveries (rows of id, event, endpoint, tenant, event type), due now. */
const deliveriesInsert = (n: number) => `
  insert into deliveries (id, event_id, endpoint_id, tenant_id, event_type, next_attempt_at)
  select id, event_id, endpoint_id, tenant_id, event_type, now()
  from (values ${values(n, ["text", "text", "text", "text", "text"])})
    as r(id, event_id, endpoint_id, tenant_id, event_type)`;
const INSERT_DELIVERIES = perRowCount(deliveriesInsert);
/** The same, skipping (event, endpoint) pairs that have a delivery; returns those inserted. */
const INSERT_NEW_DELIVERIES = perRowCount(
  (n) => `${deliveriesInsert(n)}
  on conflict (event_id, endpoint_id) do nothing
  returning id, endpoint_id as "endpointId"`,
);
