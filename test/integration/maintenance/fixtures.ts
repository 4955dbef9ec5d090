import { eq } from "drizzle-orm";
import { deliveries, endpointSecrets, endpoints, events, tenants } from "../../../db/schema/index.ts";
import { generateSecret } from "../../../src/delivery/sign.ts";
import type { Deps } from "../../../src/deps.ts";
import { enqueueDeliveries } from "../../../src/jobs/enqueue.ts";
import { newId } from "../../../src/lib/ids.ts";
import { envelope } from "../../../src/services/events/insert.ts";

/** Rows for maintenance and health tests, inserted directly (the REST routes belong to other suites). */
export async function makeTenant(deps: Deps): Promise<string> {
  const id = newId("ten");
  await deps.db.insert(tenants).values({ id, name: `t-${id}` });
  return id;
}

export async function makeEndpoint(
  deps: Deps,
  tenantId: string,
  url: string,
  extra: Partial<typeof endpoints.$inferInsert> = {},
): Promise<{ id: string; secret: string }> {
  const id = newId("ep");
  const secret = generateSecret();
  await deps.db.insert(endpoints).values({ id, tenantId, url, ...extra });
  const enc = deps.keyring.encrypt(secret);
  await deps.db
    .insert(endpointSecrets)
    .values({ id: newId("whs"), endpointId: id, keyId: enc.keyId, ciphertext: enc.ciphertext });
  return { id, secret };
}

/** An event and one delivery to `endpointId`, optionally without any job (as if the job was lost). */
export async function makeDelivery(
  deps: Deps,
  endpointId: string,
  tenantId: string,
  opts: {
    nextAttemptAt?: Date;
    attemptCount?: number;
    generation?: number;
    /** "none": no job; "current": a job for the current generation; "stale": one for an older generation. */
    job?: "none" | "current" | "stale";
    jobStartAfter?: Date;
    status?: "pending" | "succeeded" | "dead" | "cancelled";
  } = {},
): Promise<{ deliveryId: string; eventId: string }> {
  const eventId = newId("evt");
  const deliveryId = newId("dlv");
  // Tests that need "created before a time" sleep across it; ids carry the creation time.
  const generation = opts.generation ?? 0;
  await deps.db.transaction(async (tx) => {
    await tx.insert(events).values({
      id: eventId,
      type: "webhook.test",
      tenantId,
      body: envelope("webhook.test", new Date(), { n: 1 }),
      occurredAt: new Date(),
    });
    await tx.insert(deliveries).values({
      id: deliveryId,
      eventId,
      endpointId,
      tenantId,
      eventType: "webhook.test",
      nextAttemptAt: opts.nextAttemptAt ?? new Date(),
      attemptCount: opts.attemptCount ?? 0,
      generation,
      status: opts.status ?? "pending",
    });
    const job = opts.job ?? "none";
    if (job !== "none")
      await enqueueDeliveries(deps.boss, tx, [
        {
          deliveryId,
          generation: job === "current" ? generation : Math.max(0, generation - 1),
          trigger: "scheduled",
          endpointId,
          ...(opts.jobStartAfter ? { startAfter: opts.jobStartAfter } : {}),
        },
      ]);
  });
  return { deliveryId, eventId };
}

export async function deliveryRow(deps: Deps, id: string) {
  const [row] = await deps.db.select().from(deliveries).where(eq(deliveries.id, id));
  if (!row) throw new Error(`no delivery ${id}`);
  return row;
}

/** Polls `check` until it returns a truthy value or the time is up. */
export async function eventually<T>(
  check: () => Promise<T | null | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}
