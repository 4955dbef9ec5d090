import type { Deps } from "../deps.ts";
import { QUEUES } from "../jobs/queues.ts";
import type { WorkRegistration } from "../jobs/workers.ts";
import { DetectJob, runDetectJob } from "./detect.ts";
import { pollOptionsFromConfig, pollUpstream } from "./upstream/poll.ts";

/**
 * The detector's workers: `detect` (apply an inbox batch) and `upstream-poll` (scheduled on
 * UPSTREAM_POLL_CRON when UPSTREAM_BASE_URL is set; unscheduled otherwise, so removing the setting
 * stops polling). A failed detect job is retried by pg-boss (QUEUE_OPTIONS.detect); the retry redoes
 * only what the crash rolled back.
 */
export async function registerDetector(deps: Deps): Promise<WorkRegistration[]> {
  const { boss, config, logger } = deps;
  const detectId = await boss.work<unknown>(
    QUEUES.detect,
    // With NOTIFY active pg-boss polls only every 30 s by default, and a retry is never notified:
    // poll every second so a retried job runs about when its retryDelay says.
    {
      batchSize: 5,
      localConcurrency: 2,
      pollingIntervalSeconds: 0.5,
      notifyPollingIntervalSeconds: 1,
      burstWhenBatchFull: true,
    },
    async (jobs) => {
      for (const job of jobs) {
        const stats = await runDetectJob(deps, DetectJob.parse(job.data));
        logger.debug({ jobId: job.id, ...stats }, "detect job done");
      }
    },
  );
  const regs: WorkRegistration[] = [{ queue: QUEUES.detect, id: detectId }];

  if (pollOptionsFromConfig(deps)) {
    await boss.schedule(QUEUES.poll, config.UPSTREAM_POLL_CRON, { kind: "tick" });
  } else {
    await boss.unschedule(QUEUES.poll).catch(() => {});
  }
  const pollId = await boss.work(QUEUES.poll, { batchSize: 1, pollingIntervalSeconds: 2 }, async () => {
    const opts = pollOptionsFromConfig(deps);
    if (!opts) return;
    await pollUpstream(deps, opts);
  });
  regs.push({ queue: QUEUES.poll, id: pollId });
  return regs;
}
