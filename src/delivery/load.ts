import { eq, inArray, sql } from "drizzle-orm";
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

/** A signing secret as the load's JSON aggregate returns it (timestamps as text). */
type SecretJson = {
  id: string;
  endpointId: string;
  scheme: EndpointSecret["scheme"];
  keyId: string;
  ciphertext: string;
  expiresAt: string | null;
  createdAt: string;
};

/**
 * Loads deliveries with their endpoint, event, circuit state and signing secrets in ONE query
 * whatever the number of deliveries (the secrets as a JSON array per row: two queries sent together
 * on the pool would go out on two connections, a round trip each). Missing deliveries are absent
 * from the map.
 */
export async function loadDeliveries(
  deps: Deps,
  deliveryIds: readonly string[],
): Promise<Map<string, LoadedDelivery>> {
  const out = new Map<string, LoadedDelivery>();
  if (deliveryIds.length === 0) return out;
  const ids = [...new Set(deliveryIds)];
  const now = deps.now();
  const rows = await deps.db
    .select({
      delivery: deliveries,
      endpoint: endpoints,
      eventBody: events.body,
      eventId: events.id,
      circuitState: endpointHealth.circuitState,
      // Not expired at load time, oldest first.
      secrets: sql<SecretJson[] | string>`coalesce((
        select json_agg(json_build_object(
          'id', s.id, 'endpointId', s.endpoint_id, 'scheme', s.scheme, 'keyId', s.key_id,
          'ciphertext', s.ciphertext, 'expiresAt', s.expires_at, 'createdAt', s.created_at
        ) order by s.created_at, s.id)
        from ${endpointSecrets} s
        where s.endpoint_id = ${endpoints.id} and (s.expires_at is null or s.expires_at > ${now.toISOString()}::timestamptz)
      ), '[]'::json)`,
    })
    .from(deliveries)
    .innerJoin(endpoints, eq(endpoints.id, deliveries.endpointId))
    .innerJoin(events, eq(events.id, deliveries.eventId))
    .leftJoin(endpointHealth, eq(endpointHealth.endpointId, endpoints.id))
    .where(inArray(deliveries.id, ids));
  for (const r of rows) {
    const list = (typeof r.secrets === "string" ? JSON.parse(r.secrets) : r.secrets) as SecretJson[];
    out.set(r.delivery.id, {
      delivery: r.delivery,
      endpoint: r.endpoint,
      eventBody: r.eventBody,
      eventId: r.eventId,
      circuitState: r.circuitState,
      secrets: list.map((x) => ({
        ...x,
        expiresAt: x.expiresAt === null ? null : new Date(x.expiresAt),
        createdAt: new Date(x.createdAt),
      })),
    });
  }
  return out;
}
