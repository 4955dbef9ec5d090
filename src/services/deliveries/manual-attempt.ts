import { createHash } from "node:crypto";
import { sql } from "drizzle-orm";
import type { PgBoss } from "pg-boss";
import type { Tx } from "../../../db/client.ts";
import { BOSS_SCHEMA } from "../../../db/migrate.ts";
import { enqueueDeliveries } from "../../jobs/enqueue.ts";
import { QUEUES } from "../../jobs/queues.ts";

/**
 * The job of a manual attempt (retry now, redrive, recover) has a well-known id derived from the
 * delivery and the generation the restart gave it, so a later retry can ask, by primary key,
 * whether that attempt is still to come. (Job data is not indexed; a lookup by it scans the queue.)
 */

/** UUIDv5 namespace (RFC 9562 §5.5) of manual attempt job ids. Never change it: live jobs carry ids made with it. */
const MANUAL_ATTEMPT_NAMESPACE = Buffer.from("b23a525f5c4e48769ce9967579038b93", "hex");

/** The pg-boss job id of the manual attempt that starts generation `generation` of a delivery. */
export function manualAttemptJobId(deliveryId: string, generation: number): string {
  const h = createHash("sha1")
    .update(MANUAL_ATTEMPT_NAMESPACE)
    .update(`${deliveryId}:${generation}`)
    .digest();
  h.writeUInt8((h.readUInt8(6) & 0x0f) | 0x50, 6); // version 5
  h.writeUInt8((h.readUInt8(8) & 0x3f) | 0x80, 8); // RFC 9562 variant
  const x = h.subarray(0, 16).toString("hex");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

export type ManualAttempt = {
  deliveryId: string;
  /** The generation the restart gave the delivery. */
  generation: number;
  endpointId: string;
  maxConcurrency: number | null;
};

/** Enqueues manual attempts in the caller's transaction, due at once, with their well-known ids. */
export async function enqueueManualAttempts(
  boss: PgBoss,
  tx: Tx,
  rows: readonly ManualAttempt[],
): Promise<void> {
  await enqueueDeliveries(
    boss,
    tx,
    rows.map((r) => ({
      ...r,
      trigger: "manual" as const,
      id: manualAttemptJobId(r.deliveryId, r.generation),
    })),
  );
}

/**
 * Whether the manual attempt that started the delivery's current generation is still to come:
 * its job is queued, waiting to be retried by the queue, or running. Only meaningful while the
 * delivery is pending at that generation and its row is locked by the caller: recording that
 * attempt always changes the generation or the status, so the job can still exist (running,
 * not yet settled) after its attempt was recorded, but the generation no longer matches then.
 */
export async function manualAttemptOutstanding(
  tx: Tx,
  delivery: { id: string; status: string; generation: number },
): Promise<boolean> {
  if (delivery.status !== "pending") return false;
  const rows = await tx.execute<{ live: boolean }>(sql`
    select exists (
      select 1 from ${sql.identifier(BOSS_SCHEMA)}.job
      where name = ${QUEUES.deliver} and id = ${manualAttemptJobId(delivery.id, delivery.generation)}::uuid
        and state in ('created', 'retry', 'active')
    ) as live`);
  return rows[0]?.live === true;
}
