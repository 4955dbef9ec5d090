import { DeliveryDispatcher } from "../delivery/dispatcher.ts";
import { fanOutEvents } from "../delivery/fanout.ts";
import type { Deps } from "../deps.ts";
import { registerDetector } from "../detector/worker.ts";
import { registerMaintenance } from "../maintenance/index.ts";
import { registerRecoverWorker } from "../services/recover/worker.ts";
import { WAKE_CHANNEL } from "./enqueue.ts";
import { ensureQueues, FanoutJob, QUEUES } from "./queues.ts";

export type Workers = {
  dispatcher: DeliveryDispatcher;
  stop: (opts?: { timeoutMs?: number }) => Promise<{ finished: number; released: number }>;
};

export type WorkerOptions = {
  /** Idle poll interval of the delivery loop, ms. Default 500 (LISTEN/NOTIFY wakes it sooner). */
  pollMs?: number;
};

/**
 * Starts every background worker of this process: fan-out, the delivery dispatcher, and any
 * extra workers registered by other modules (detector, poller, maintenance).
 */
export async function startWorkers(deps: Deps, opts: WorkerOptions = {}): Promise<Workers> {
  const { boss, config, logger } = deps;
  await ensureQueues(boss, { deliveryLeaseSeconds: Math.ceil(config.DELIVERY_LEASE / 1000) });
  const dispatcher = new DeliveryDispatcher(deps, {
    concurrency: config.WORKER_CONCURRENCY,
    endpointConcurrency: config.ENDPOINT_MAX_CONCURRENCY,
    pollMs: opts.pollMs ?? 500,
  });
  dispatcher.start();

  const workIds: WorkRegistration[] = [];
  workIds.push({
    queue: QUEUES.fanout,
    id: await boss.work<unknown>(
      QUEUES.fanout,
      // With NOTIFY active pg-boss otherwise polls only every 30 s, and wake-ups that arrive while a
      // batch runs are lost: keep fetching while batches come back full, and poll every second.
      {
        batchSize: 20,
        localConcurrency: 2,
        pollingIntervalSeconds: 0.5,
        notifyPollingIntervalSeconds: 1,
        burstWhenBatchFull: true,
      },
      // The whole batch fans out in a few queries; deliveries start as each chunk commits, not
      // after the batch (enqueueDeliveries also NOTIFYs every process's dispatcher).
      async (jobs) => {
        await fanOutEvents(
          deps,
          jobs.map((job) => FanoutJob.parse(job.data).eventId),
          { onCommit: () => dispatcher.wake() },
        );
      },
    ),
  });
  // Other modules' workers (detector, poller, maintenance) are added to this list as they land.
  const registrations: ((deps: Deps) => Promise<WorkRegistration[]>)[] = [
    registerMaintenance,
    registerDetector,
    registerRecoverWorker,
  ];
  for (const register of registrations) workIds.push(...(await register(deps)));

  // New work committed anywhere wakes this process's loops immediately.
  const listener = await deps.sql
    .listen(WAKE_CHANNEL, (payload) => {
      if (payload === "deliver") dispatcher.wake();
      else for (const w of workIds) boss.notifyWorker(w.id);
    })
    .catch((err) => {
      logger.warn({ err }, "LISTEN failed; falling back to polling");
      return null;
    });

  return {
    dispatcher,
    stop: async ({ timeoutMs = 10_000 } = {}) => {
      await listener?.unlisten().catch(() => {});
      for (const w of workIds) await boss.offWork(w.queue, { id: w.id, wait: false }).catch(() => {});
      return dispatcher.stop(timeoutMs);
    },
  };
}

/** A pg-boss `work()` registration, kept so it can be stopped. */
export type WorkRegistration = { queue: string; id: string };
