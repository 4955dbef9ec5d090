import { DeliveryDispatcher } from "../delivery/dispatcher.ts";
import { fanOutEvent } from "../delivery/fanout.ts";
import type { Deps } from "../deps.ts";
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
  await ensureQueues(boss);
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
      { batchSize: 20, localConcurrency: 2, pollingIntervalSeconds: 0.5 },
      async (jobs) => {
        for (const job of jobs) {
          const { eventId } = FanoutJob.parse(job.data);
          await fanOutEvent(deps, eventId);
        }
        dispatcher.wake();
      },
    ),
  });
  // Other modules' workers (detector, poller, maintenance) are added to this list as they land.
  const registrations: ((deps: Deps) => Promise<WorkRegistration[]>)[] = [];
  for (const register of registrations) workIds.push(...(await register(deps)));

  // New work committed anywhere wakes this process's loops immediately.
  const listener = await deps.sql
    .listen(WAKE_CHANNEL, (payload) => {
      if (payload === "deliver") dispatcher.wake();
      else for (const w of workIds) boss.notifyWorker(w.id);
    })
    .catch((err) => {
      logger.warn({ err: String(err) }, "LISTEN failed; falling back to polling");
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
