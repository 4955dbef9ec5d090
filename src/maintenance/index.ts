import type { Deps } from "../deps.ts";
import { QUEUES } from "../jobs/queues.ts";
import type { WorkRegistration } from "../jobs/workers.ts";
import { disableLongFailingEndpoints } from "./auto-disable.ts";
import { pruneOldRows, type RetentionResult } from "./retention.ts";
import { type SweepResult, sweepOverdueDeliveries } from "./sweeper.ts";

export type MaintenanceReport = {
  sweep: SweepResult;
  disabled: string[];
  retention: RetentionResult;
  ms: number;
};

/**
 * One maintenance pass: the overdue-delivery sweeper, endpoint auto-disable, then retention. Each
 * part is safe to run concurrently with itself, so an overlapping pass does no harm; a failing
 * part is logged and does not stop the others.
 */
export async function runMaintenance(deps: Deps): Promise<MaintenanceReport> {
  const { config, logger } = deps;
  const started = performance.now();
  const report: MaintenanceReport = {
    sweep: { examined: 0, requeued: [] },
    disabled: [],
    retention: { attempts: 0, deliveries: 0, events: 0, idempotencyKeys: 0 },
    ms: 0,
  };
  const part = async (name: string, run: () => Promise<void>) => {
    try {
      await run();
    } catch (err) {
      logger.error({ err, part: name }, "maintenance step failed");
    }
  };
  await part("sweeper", async () => {
    report.sweep = await sweepOverdueDeliveries(deps, { marginMs: config.SWEEPER_MARGIN });
  });
  await part("auto-disable", async () => {
    report.disabled = (
      await disableLongFailingEndpoints(deps, { afterMs: config.ENDPOINT_DISABLE_AFTER })
    ).disabled;
  });
  await part("retention", async () => {
    report.retention = await pruneOldRows(deps, {
      attemptsMaxAgeMs: config.RETENTION_ATTEMPTS,
      eventsMaxAgeMs: config.RETENTION_EVENTS,
      idempotencyMaxAgeMs: config.RETENTION_IDEMPOTENCY_KEYS,
      batchSize: config.RETENTION_BATCH_SIZE,
    });
  });
  report.ms = Math.round(performance.now() - started);
  logger.info(
    {
      requeued: report.sweep.requeued.length,
      disabled: report.disabled.length,
      pruned: report.retention,
      ms: report.ms,
    },
    "maintenance pass done",
  );
  return report;
}

/**
 * Schedules the maintenance pass on MAINTENANCE_CRON and works its queue. pg-boss's cron
 * creates one job per tick across every process (the schedule row is shared; the send is a
 * singleton per slot), so however many workers run, a tick runs once. A job sent by hand to the
 * queue runs a pass too.
 */
export async function registerMaintenance(deps: Deps): Promise<WorkRegistration[]> {
  const { boss, config } = deps;
  await boss.schedule(QUEUES.maintenance, config.MAINTENANCE_CRON, { kind: "tick" });
  const id = await boss.work(QUEUES.maintenance, { batchSize: 1, pollingIntervalSeconds: 2 }, async () => {
    await runMaintenance(deps);
  });
  return [{ queue: QUEUES.maintenance, id }];
}
