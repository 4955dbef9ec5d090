import type { PgBoss } from "pg-boss";
import type { DbOrTx, Tx } from "../../db/client.ts";
import { BOSS_SCHEMA } from "../../db/migrate.ts";
import { bossDb, run } from "../../db/raw.ts";
import { DeliverJob, FanoutJob, QUEUES } from "./queues.ts";

/** Channel our workers LISTEN on to wake the moment new work commits. */
export const WAKE_CHANNEL = "signalpost_wake";
const NOTIFY = `select pg_notify('${WAKE_CHANNEL}', $1)`;

/**
 * Enqueues fan-out for events inside the caller's transaction: the event rows and their jobs
 * commit or roll back together.
 */
export async function enqueueFanout(boss: PgBoss, tx: Tx, eventIds: readonly string[]): Promise<void> {
  if (eventIds.length === 0) return;
  // The NOTIFY goes in the same round trip as the insert; both take effect at commit.
  await Promise.all([
    boss.insert(
      QUEUES.fanout,
      eventIds.map((eventId) => ({ data: FanoutJob.parse({ eventId }) })),
      { db: bossDb(tx) },
    ),
    run(tx, NOTIFY, ["fanout"]),
  ]);
}

export type DeliverJobInput = DeliverJob & {
  endpointId: string;
  maxConcurrency?: number | null;
  startAfter?: Date;
  /** A job id of the caller's choosing (a manual attempt's well-known id); default: pg-boss picks one. */
  id?: string;
};

/** Enqueues delivery attempts inside the caller's transaction. Group = endpoint, for concurrency limits. */
export async function enqueueDeliveries(
  boss: PgBoss,
  tx: Tx,
  jobs: readonly DeliverJobInput[],
): Promise<void> {
  if (jobs.length === 0) return;
  // The NOTIFY goes in the same round trip as the insert; both take effect at commit.
  const wake = jobs.some((j) => !j.startAfter) ? run(tx, NOTIFY, ["deliver"]) : null;
  const insert = boss.insert(
    QUEUES.deliver,
    jobs.map((j) => ({
      ...(j.id ? { id: j.id } : {}),
      data: DeliverJob.parse({ deliveryId: j.deliveryId, generation: j.generation, trigger: j.trigger }),
      group: { id: j.endpointId, ...(j.maxConcurrency ? { tier: concurrencyTier(j.maxConcurrency) } : {}) },
      ...(j.startAfter ? { startAfter: j.startAfter } : {}),
    })),
    { db: bossDb(tx) },
  );
  await Promise.all([insert, wake]);
}

/**
 * Settles delivery jobs whose attempt is over (recorded, or skipped as stale): deletes them, fenced
 * to the fetched attempt (`retryCount`, as pg-boss's complete), so a job whose lease expired and
 * was taken again by another worker is left to that worker. Not `complete`: every attempt is
 * already in `attempts` and every delivery's state in `deliveries`, so pg-boss's completed copy
 * (kept 7 days by default: ~600 million rows a week at 1,000 deliveries/s) would only be written,
 * indexed and later deleted again. The UPDATE to `completed` changes indexed columns, so it also
 * writes a new entry into each of pg-boss's job indexes; a DELETE touches none of them.
 */
export async function settleDeliveryJobs(
  boss: PgBoss,
  jobs: readonly { id: string; retryCount: number }[],
  db?: Tx,
): Promise<void> {
  if (jobs.length === 0) return;
  await boss.deleteJob(QUEUES.deliver, [...jobs], db ? { db: bossDb(db) } : {});
}

/** Per-endpoint concurrency is expressed as a pg-boss group tier `c<N>`. */
export function concurrencyTier(n: number): string {
  return `c${n}`;
}

/** The tiers map handed to fetch: `c1` → 1 … `c64` → 64. */
export function concurrencyTiers(max = 64): Record<string, number> {
  return Object.fromEntries(Array.from({ length: max }, (_, i) => [concurrencyTier(i + 1), i + 1]));
}

/**
 * Whether a delivery job is due and not yet taken: one indexed EXISTS, far cheaper than a fetch
 * (which plans and runs the group-concurrency CTE) when the answer is no.
 */
export async function deliveryJobsWaiting(db: DbOrTx): Promise<boolean> {
  const rows = await run<{ waiting: boolean }>(db, JOBS_WAITING, [QUEUES.deliver]);
  return rows[0]?.waiting === true;
}

const JOBS_WAITING = `
  select exists (
    select 1 from "${BOSS_SCHEMA}".job
    where name = $1 and state in ('created', 'retry') and not blocked and start_after <= now()
  ) as waiting`;
