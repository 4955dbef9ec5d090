import { and, eq, isNull, sql } from "drizzle-orm";
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
 * Creates one delivery per matching live endpoint and enqueues each, chunk by chunk. Idempotent:
 * a retried fan-out job skips deliveries that exist (unique (event, endpoint)) — and those were
 * enqueued in the same transaction that created them.
 */
export async function fanOutEvent(deps: Deps, eventId: string): Promise<{ deliveries: number }> {
  const { db } = deps;
  const [event] = await db.select().from(events).where(eq(events.id, eventId)).limit(1);
  if (!event) return { deliveries: 0 };
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
        event.tenantId ? eq(endpoints.tenantId, event.tenantId) : undefined,
      ),
    );
  const targets = candidates.filter(
    (e) => matchesEventType(e.eventTypes, event.type) && matchesSymbol(e.symbols, event.symbol),
  );
  let created = 0;
  for (let i = 0; i < targets.length; i += CHUNK) {
    const chunk = targets.slice(i, i + CHUNK);
    created += await db.transaction(async (tx) => {
      const inserted = await tx
        .insert(deliveries)
        .values(
          chunk.map((e) => ({
            id: newId("dlv"),
            eventId: event.id,
            endpointId: e.id,
            tenantId: e.tenantId,
            eventType: event.type,
            nextAttemptAt: sql`now()`,
          })),
        )
        .onConflictDoNothing({ target: [deliveries.eventId, deliveries.endpointId] })
        .returning({ id: deliveries.id, endpointId: deliveries.endpointId });
      const limits = new Map(chunk.map((e) => [e.id, e.maxConcurrency]));
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
  }
  return { deliveries: created };
}
