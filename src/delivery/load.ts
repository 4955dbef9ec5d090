import { list, perRowCount, rowMapper, run } from "../../db/raw.ts";
import {
  type Delivery,
  deliveries,
  type Endpoint,
  type EndpointSecret,
  endpoints,
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
  const rows = await run(deps.db, LOAD(ids.length, [deps.now().toISOString(), ...ids]));
  for (const r of rows) {
    const secrets = r.secrets as SecretJson[] | string;
    const list = (typeof secrets === "string" ? JSON.parse(secrets) : secrets) as SecretJson[];
    const delivery = DELIVERY.map(r);
    out.set(delivery.id, {
      delivery,
      endpoint: ENDPOINT.map(r),
      eventBody: r.event_body as string,
      eventId: r.event_id as string,
      circuitState: (r.circuit_state as string | null) ?? null,
      secrets: list.map((x) => ({
        ...x,
        expiresAt: x.expiresAt === null ? null : new Date(x.expiresAt),
        createdAt: new Date(x.createdAt),
      })),
    });
  }
  return out;
}

const DELIVERY = rowMapper(deliveries, "d", "d_");
const ENDPOINT = rowMapper(endpoints, "e", "e_");

/** $1: now (secrets expired by then are left out); $2…: the delivery ids. Constant text per count (db/raw.ts). */
const LOAD = perRowCount(
  (n) => `
  select ${DELIVERY.columns}, ${ENDPOINT.columns},
    ev.body as event_body, ev.id as event_id, h.circuit_state,
    coalesce((
      select json_agg(json_build_object(
        'id', s.id, 'endpointId', s.endpoint_id, 'scheme', s.scheme, 'keyId', s.key_id,
        'ciphertext', s.ciphertext, 'expiresAt', s.expires_at, 'createdAt', s.created_at
      ) order by s.created_at, s.id)
      from endpoint_secrets s
      where s.endpoint_id = e.id and (s.expires_at is null or s.expires_at > $1::timestamptz)
    ), '[]'::json) as secrets
  from deliveries d
  join endpoints e on e.id = d.endpoint_id
  join events ev on ev.id = d.event_id
  left join endpoint_health h on h.endpoint_id = e.id
  where d.id in (${list(n, 2)})`,
);
