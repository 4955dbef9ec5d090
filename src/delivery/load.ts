import { and, eq, gt, inArray, isNull, or } from "drizzle-orm";
import {
  type Delivery,
  deliveries,
  type Endpoint,
  type EndpointSecret,
  endpointHealth,
  endpointSecrets,
  endpoints,
  events,
} from "../../db/schema/index.ts";
import type { Deps } from "../deps.ts";

/** A delivery with what an attempt needs, loaded for many jobs at once. */
export type LoadedDelivery = {
  delivery: Delivery;
  endpoint: Endpoint;
  eventBody: string;
  eventId: string;
  /** The endpoint's circuit state as loaded (null: no health row, i.e. closed). */
  circuitState: string | null;
  /** Signing secrets not expired at load time, oldest first. */
  secrets: EndpointSecret[];
};

/**
 * Loads deliveries with their endpoint, event, circuit state and signing secrets: two queries
 * whatever the number of deliveries. Missing deliveries are absent from the map.
 */
export async function loadDeliveries(
  deps: Deps,
  deliveryIds: readonly string[],
): Promise<Map<string, LoadedDelivery>> {
  const out = new Map<string, LoadedDelivery>();
  if (deliveryIds.length === 0) return out;
  const { db } = deps;
  const ids = [...new Set(deliveryIds)];
  const now = deps.now();
  // Both queries in one round trip: the secrets are found through the deliveries' endpoints.
  const [rows, secretRows] = await Promise.all([
    db
      .select({
        delivery: deliveries,
        endpoint: endpoints,
        eventBody: events.body,
        eventId: events.id,
        circuitState: endpointHealth.circuitState,
      })
      .from(deliveries)
      .innerJoin(endpoints, eq(endpoints.id, deliveries.endpointId))
      .innerJoin(events, eq(events.id, deliveries.eventId))
      .leftJoin(endpointHealth, eq(endpointHealth.endpointId, endpoints.id))
      .where(inArray(deliveries.id, ids)),
    db
      .select()
      .from(endpointSecrets)
      .where(
        and(
          inArray(
            endpointSecrets.endpointId,
            db.select({ id: deliveries.endpointId }).from(deliveries).where(inArray(deliveries.id, ids)),
          ),
          or(isNull(endpointSecrets.expiresAt), gt(endpointSecrets.expiresAt, now)),
        ),
      )
      .orderBy(endpointSecrets.createdAt),
  ]);
  if (rows.length === 0) return out;
  const byEndpoint = new Map<string, EndpointSecret[]>();
  for (const s of secretRows) {
    if (s.expiresAt && s.expiresAt <= now) continue;
    const list = byEndpoint.get(s.endpointId);
    if (list) list.push(s);
    else byEndpoint.set(s.endpointId, [s]);
  }
  for (const r of rows)
    out.set(r.delivery.id, {
      delivery: r.delivery,
      endpoint: r.endpoint,
      eventBody: r.eventBody,
      eventId: r.eventId,
      circuitState: r.circuitState,
      secrets: byEndpoint.get(r.endpoint.id) ?? [],
    });
  return out;
}
