import { and, eq, inArray, isNull, sql } from "drizzle-orm";
import { deliveries, endpoints, events, tenants } from "../../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { enqueueDeliveries } from "../jobs/enqueue.ts";
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
  // A tenant-less event goes to every tenant; otherwise only the batch's tenants are read.
  const tenantIds = batch.some((e) => e.tenantId === null)
    ? null
    : [...new Set(batch.flatMap((e) => e.tenantId ?? []))];
  const candidates = await db
    .select({
      id: endpoints.id,
      tenantId: endpoints.tenantId,
      eventTypes: endpoints.eventTypes,
      symbols: endpoints.symbols,
      maxConcurrency: endpoints.maxConcurrency,
    })
    .from(endpoints)
    .innerJoin(tenants, eq(tenants.id, endpoints.tenantId))
    .where(
      and(
        isNull(endpoints.deletedAt),
        eq(endpoints.disabled, false),
        isNull(tenants.deletedAt),
        tenantIds ? inArray(endpoints.tenantId, tenantIds) : undefined,
      ),
    );
  const limits = new Map(candidates.map((e) => [e.id, e.maxConcurrency]));
  const targets = batch.flatMap((event) =>
    candidates
      .filter(
        (e) =>
          (event.tenantId === null || e.tenantId === event.tenantId) &&
          matchesEventType(e.eventTypes, event.type) &&
          matchesSymbol(e.symbols, event.symbol),
      )
      .map((e) => ({ event, endpoint: e })),
  );
  let created = 0;
  for (let i = 0; i < targets.length; i += CHUNK) {
    const chunk = targets.slice(i, i + CHUNK);
    created += await db.transaction(async (tx) => {
      const inserted = await tx
        .insert(deliveries)
        .values(
          chunk.map(({ event, endpoint }) => ({
            id: newId("dlv"),
            eventId: event.id,
            endpointId: endpoint.id,
            tenantId: endpoint.tenantId,
            eventType: event.type,
            nextAttemptAt: sql`now()`,
          })),
        )
        .onConflictDoNothing({ target: [deliveries.eventId, deliveries.endpointId] })
        .returning({ id: deliveries.id, endpointId: deliveries.endpointId });
      await enqueueDeliveries(
        deps.boss,
        tx,
        inserted.map((d) => ({
          deliveryId: d.id,
          generation: 0,
          trigger: "scheduled" as const,
          endpointId: d.endpointId,
          maxConcurrency: limits.get(d.endpointId) ?? null,
        })),
      );
      return inserted.length;
    });
    opts.onCommit?.();
  }
  return { deliveries: created };
}
