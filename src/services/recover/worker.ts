import type { Deps } from "../../deps.ts";
import { QUEUES, RecoverJob } from "../../jobs/queues.ts";
import type { WorkRegistration } from "../../jobs/workers.ts";
import { runRecovery } from "./run.ts";

/** Works QUEUES.recover: one recovery run at a time per process. */
export async function registerRecoverWorker(deps: Deps): Promise<WorkRegistration[]> {
  const id = await deps.boss.work<unknown>(
    QUEUES.recover,
    { batchSize: 1, pollingIntervalSeconds: 1 },
    async ([job]) => {
      if (!job) return;
      await runRecovery(deps, RecoverJob.parse(job.data));
    },
  );
  return [{ queue: QUEUES.recover, id }];
}
