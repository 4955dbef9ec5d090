import type { PgBoss } from "pg-boss";
import { z } from "zod";

/** Queue names: one place, so producers and workers can't drift apart. */
export const QUEUES = {
  /** One job per published event: creates its deliveries and enqueues them. */
  fanout: "fanout",
  /** One job per delivery attempt (the first, and each scheduled retry). */
  deliver: "deliver",
  /** Change detection for a batch of signal/grade snapshots. */
  detect: "detect",
  /** Scheduled upstream poll. */
  poll: "upstream-poll",
  /** Periodic maintenance: overdue-delivery sweeper, endpoint auto-disable, retention. */
  maintenance: "maintenance",
  /** Re-sends an endpoint's failed deliveries since a time. */
  recover: "endpoint-recover",
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export const FanoutJob = z.object({ eventId: z.string() });
export type FanoutJob = z.infer<typeof FanoutJob>;

/**
 * `generation` is the delivery's generation when this job was scheduled. A manual retry or a
 * redrive bumps it, so a job left over from the earlier schedule sees the mismatch and does nothing.
 */
export const DeliverJob = z.object({
  deliveryId: z.string(),
  generation: z.number().int().min(0),
  trigger: z.enum(["scheduled", "manual"]).default("scheduled"),
});
export type DeliverJob = z.infer<typeof DeliverJob>;

export const RecoverJob = z.object({
  recoveryId: z.string(),
  endpointId: z.string(),
  since: z.string(),
  requestedBy: z.string(),
});
export type RecoverJob = z.infer<typeof RecoverJob>;

/**
 * Queue options. The delivery lease (`expireInSeconds`) is longer than the longest allowed request
 * timeout (30 s) plus the time to record the attempt, so an expired job never overlaps a live
 * request. `retryLimit` here is about crashed workers (a lease that expired), not HTTP failures:
 * those are rescheduled by the delivery engine itself.
 */
export const QUEUE_OPTIONS: Record<
  QueueName,
  { expireInSeconds: number; retryLimit: number; retryDelay: number; notify?: boolean }
> = {
  fanout: { expireInSeconds: 300, retryLimit: 20, retryDelay: 2, notify: true },
  deliver: { expireInSeconds: 60, retryLimit: 20, retryDelay: 1, notify: false },
  detect: { expireInSeconds: 300, retryLimit: 20, retryDelay: 2, notify: true },
  "upstream-poll": { expireInSeconds: 600, retryLimit: 0, retryDelay: 0 },
  maintenance: { expireInSeconds: 600, retryLimit: 0, retryDelay: 0 },
  "endpoint-recover": { expireInSeconds: 3600, retryLimit: 3, retryDelay: 10 },
};

/**
 * Creates (or updates) every queue. Idempotent; run by `migrate` and at worker start.
 * `deliveryLeaseSeconds` (DELIVERY_LEASE, passed by workers) sets the deliver queue's lease;
 * without it an existing queue keeps the lease the workers last set, so `migrate` or an API
 * process starting later does not undo it.
 */
export async function ensureQueues(
  boss: PgBoss,
  opts: { deliveryLeaseSeconds?: number } = {},
): Promise<void> {
  for (const [name, options] of Object.entries(QUEUE_OPTIONS)) {
    await boss.createQueue(name, options);
    if (name !== QUEUES.deliver) await boss.updateQueue(name, options);
    else {
      const { expireInSeconds, ...rest } = options;
      await boss.updateQueue(
        name,
        opts.deliveryLeaseSeconds ? { ...rest, expireInSeconds: opts.deliveryLeaseSeconds } : rest,
      );
    }
  }
}
