import { asc, count, eq, sql } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { endpoints, events, signalSnapshots } from "../../../db/schema/index.ts";
import type { TestApp } from "../../helpers/app.ts";
import { waitUntil } from "../../helpers/fixtures.ts";
import type { Received } from "../../helpers/receiver.ts";

/** Waits until the detector's inbox is empty and no detect/fanout job is due or running. */
export async function waitForDetection(t: TestApp, timeoutMs = 20_000): Promise<void> {
  await waitUntil(
    async () => {
      const [inbox] = await t.deps.db.select({ n: count() }).from(signalSnapshots);
      if ((inbox?.n ?? 0) > 0) return false;
      const jobs = await t.deps.sql<{ n: number }[]>`
        select count(*)::int as n from pgboss.job
        where name in ('detect', 'fanout') and state in ('created', 'retry', 'active')
          and start_after < now() + interval '1 minute'`; // not an inline replay's late safety net
      return (jobs[0]?.n ?? 1) === 0;
    },
    timeoutMs,
    "detection and fan-out to finish",
  );
}

/** Events in insertion order, parsed. */
export async function storedEvents(t: TestApp) {
  const rows = await t.deps.db.select().from(events).orderBy(asc(events.id));
  return rows.map((r) => ({
    id: r.id,
    type: r.type,
    symbol: r.symbol,
    occurredAt: r.occurredAt,
    ...JSON.parse(r.body),
  }));
}

export async function setEndpointFilters(
  t: TestApp,
  id: string,
  f: { symbols?: string[] | null; eventTypes?: string[] | null },
): Promise<void> {
  await t.deps.db
    .update(endpoints)
    .set({ ...f, updatedAt: sql`now()` })
    .where(eq(endpoints.id, id));
}

/** Verifies a received request with the `standardwebhooks` package and returns the payload. */
export function verified(
  secret: string,
  req: Received,
): { type: string; timestamp: string; data: Record<string, unknown> } {
  return new Webhook(secret).verify(req.body.toString("utf8"), {
    "webhook-id": String(req.headers["webhook-id"]),
    "webhook-timestamp": String(req.headers["webhook-timestamp"]),
    "webhook-signature": String(req.headers["webhook-signature"]),
  }) as { type: string; timestamp: string; data: Record<string, unknown> };
}
