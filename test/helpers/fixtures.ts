import { and, asc, eq } from "drizzle-orm";
import {
  type Attempt,
  attempts,
  type Delivery,
  type DeliveryStatus,
  deliveries,
  endpointSecrets,
  endpoints,
  tenants,
} from "../../db/schema/index.ts";
import { generateSecret } from "../../src/delivery/sign.ts";
import { newId } from "../../src/lib/ids.ts";
import { insertEvents, type NewEvent, type StoredEvent } from "../../src/services/events/insert.ts";
import type { TestApp } from "./app.ts";

/**
 * Rows written straight to the database, the way the engine reads them. Delivery tests use these
 * instead of the REST API so they do not depend on its validation (SSRF tests insert URLs the API
 * would refuse, to prove the delivery-time check).
 */

export async function createTenant(t: TestApp, name = "acme"): Promise<string> {
  const id = newId("ten");
  await t.deps.db.insert(tenants).values({ id, name });
  return id;
}

export type EndpointFixture = {
  url: string;
  /** A new tenant when omitted. */
  tenantId?: string;
  /** Retry delays in ms; omitted = the configured default. */
  retrySchedule?: number[];
  headers?: Record<string, string>;
  eventTypes?: string[];
  maxConcurrency?: number;
  /** Plaintext `whsec_` secret; generated when omitted. */
  secret?: string;
};

export type CreatedEndpoint = { id: string; tenantId: string; url: string; secret: string };

/** An endpoint with one current signing secret (encrypted with the app's keyring). */
export async function createEndpoint(t: TestApp, f: EndpointFixture): Promise<CreatedEndpoint> {
  const tenantId = f.tenantId ?? (await createTenant(t));
  const id = newId("ep");
  const secret = f.secret ?? generateSecret();
  const enc = t.deps.keyring.encrypt(secret);
  await t.deps.db.transaction(async (tx) => {
    await tx.insert(endpoints).values({
      id,
      tenantId,
      url: f.url,
      headers: f.headers ?? {},
      eventTypes: f.eventTypes ?? null,
      retrySchedule: f.retrySchedule ?? null,
      maxConcurrency: f.maxConcurrency ?? null,
    });
    await tx
      .insert(endpointSecrets)
      .values({ id: newId("whs"), endpointId: id, keyId: enc.keyId, ciphertext: enc.ciphertext });
  });
  return { id, tenantId, url: f.url, secret };
}

/** Publishes one event (insert + fan-out job in one transaction), as the events API does. */
export async function publish(
  t: TestApp,
  type: string,
  data: unknown,
  extra: Omit<NewEvent, "type" | "data"> = {},
): Promise<StoredEvent> {
  const [ev] = await t.deps.db.transaction((tx) => insertEvents(t.deps, tx, [{ type, data, ...extra }]));
  if (!ev) throw new Error("insertEvents returned nothing");
  return ev;
}

/** Polls `probe` until it returns a value that is not null/undefined/false, or fails after `timeoutMs`. */
export async function waitUntil<T>(
  probe: () => Promise<T | null | undefined | false>,
  timeoutMs = 10_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== null && v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function deliveryOf(t: TestApp, eventId: string, endpointId: string): Promise<Delivery | null> {
  const [row] = await t.deps.db
    .select()
    .from(deliveries)
    .where(and(eq(deliveries.eventId, eventId), eq(deliveries.endpointId, endpointId)));
  return row ?? null;
}

/** Waits until the (event, endpoint) delivery reaches one of `statuses` (default: any final one). */
export async function settledDelivery(
  t: TestApp,
  eventId: string,
  endpointId: string,
  opts: { statuses?: DeliveryStatus[]; timeoutMs?: number } = {},
): Promise<Delivery> {
  const statuses = opts.statuses ?? ["succeeded", "dead", "cancelled"];
  return waitUntil(
    async () => {
      const d = await deliveryOf(t, eventId, endpointId);
      return d && statuses.includes(d.status) ? d : null;
    },
    opts.timeoutMs ?? 10_000,
    `delivery of ${eventId} to ${endpointId} to be ${statuses.join("/")}`,
  );
}

/** A delivery's attempts in order. */
export async function attemptsOf(t: TestApp, deliveryId: string): Promise<Attempt[]> {
  return t.deps.db
    .select()
    .from(attempts)
    .where(eq(attempts.deliveryId, deliveryId))
    .orderBy(asc(attempts.number));
}
