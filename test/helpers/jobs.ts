import { BOSS_SCHEMA } from "../../db/migrate.ts";
import { QUEUES } from "../../src/jobs/queues.ts";
import type { TestApp } from "./app.ts";

/** A delivery job as pg-boss holds it, or as it was when it was settled (deleted). */
export type DeliverJobRow = {
  id: string;
  state: string;
  retry_count: number;
  /** The last failure's output (pg-boss keeps it on the job for its retry). */
  output: unknown;
  settled: boolean;
};

/**
 * Settled delivery jobs are deleted (settleDeliveryJobs), so a test that wants to know how a job
 * ended keeps a copy: a trigger on pg-boss's job table logs each deleted delivery job with its
 * state and retry count at that moment. Call once per test database, before the jobs run.
 */
export async function logSettledDeliverJobs(t: TestApp): Promise<void> {
  await t.deps.sql.unsafe(`
    create table test_settled_jobs (
      id uuid not null, delivery_id text, state text not null, retry_count int not null,
      output jsonb, created_on timestamptz not null);
    create function test_log_settled_job() returns trigger language plpgsql as $$
    begin
      insert into test_settled_jobs
        values (old.id, old.data->>'deliveryId', old.state::text, old.retry_count, old.output, old.created_on);
      return old;
    end $$;
    create trigger test_log_settled_job after delete on "${BOSS_SCHEMA}".job
      for each row when (old.name = '${QUEUES.deliver}') execute function test_log_settled_job();`);
}

/** Every job of a delivery, oldest first: those still queued or running, then those settled. */
export async function deliverJobsOf(t: TestApp, deliveryId: string): Promise<DeliverJobRow[]> {
  return t.deps.sql<DeliverJobRow[]>`
    select id, state, retry_count, output, settled from (
      select id, state::text, retry_count, output, false as settled, created_on
        from ${t.deps.sql(BOSS_SCHEMA)}.job
        where name = ${QUEUES.deliver} and data->>'deliveryId' = ${deliveryId}
      union all
      select id, state, retry_count, output, true, created_on from test_settled_jobs where delivery_id = ${deliveryId}
    ) j order by created_on`;
}
