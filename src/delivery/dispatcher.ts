import type { Job, PgBoss } from "pg-boss";
import type { Deps } from "../deps.ts";
import { concurrencyTiers } from "../jobs/enqueue.ts";
import { DeliverJob, QUEUES } from "../jobs/queues.ts";
import { runDeliveryAttempt } from "./attempt.ts";

export type DispatcherOptions = {
  /** Concurrent deliveries in this process. */
  concurrency: number;
  /** Concurrent deliveries per endpoint across all workers, unless the endpoint sets its own. */
  endpointConcurrency: number;
  /** Idle poll interval in ms (new work also wakes the loop through LISTEN/NOTIFY). */
  pollMs: number;
};

/**
 * Pulls delivery jobs from pg-boss in batches and runs each on its own, so one slow endpoint
 * never holds a batch hostage. Per-endpoint limits use pg-boss group concurrency (the database
 * counts active jobs per endpoint across every worker process). Completions are batched.
 */
export class DeliveryDispatcher {
  readonly #deps: Deps;
  readonly #boss: PgBoss;
  readonly #opts: DispatcherOptions;
  readonly #inflight = new Map<string, Promise<void>>();
  #completed: Job<unknown>[] = [];
  #failed: { job: Job<unknown>; error: string }[] = [];
  #stopping = false;
  #wake: (() => void) | null = null;
  #loop: Promise<void> | null = null;
  #flushTimer: NodeJS.Timeout | null = null;
  readonly #tiers = concurrencyTiers();

  constructor(deps: Deps, opts: DispatcherOptions) {
    this.#deps = deps;
    this.#boss = deps.boss;
    this.#opts = opts;
  }

  start(): void {
    this.#loop = this.#run();
  }

  /** Wake the fetch loop now (new work was committed, or a slot freed). */
  wake(): void {
    this.#wake?.();
  }

  /** Wake the loop at a time (a retry scheduled by this process). */
  wakeAt(at: Date): void {
    const ms = at.getTime() - Date.now();
    if (ms <= this.#opts.pollMs) setTimeout(() => this.wake(), Math.max(0, ms) + 5).unref();
  }

  get inflight(): number {
    return this.#inflight.size;
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      const free = this.#opts.concurrency - this.#inflight.size;
      if (free <= 0) {
        await this.#sleep(this.#opts.pollMs);
        continue;
      }
      const want = Math.min(free, 100);
      let jobs: Job<unknown>[] = [];
      try {
        jobs = await this.#boss.fetch(QUEUES.deliver, {
          batchSize: want,
          groupConcurrency: { default: this.#opts.endpointConcurrency, tiers: this.#tiers },
        });
      } catch (err) {
        this.#deps.logger.warn({ err: String(err) }, "fetching delivery jobs failed; retrying");
        await this.#sleep(1000);
        continue;
      }
      for (const job of jobs) this.#start(job);
      if (jobs.length < want) await this.#sleep(this.#opts.pollMs);
    }
  }

  #start(job: Job<unknown>): void {
    const p = (async () => {
      const parsed = DeliverJob.safeParse(job.data);
      if (!parsed.success) {
        this.#deps.logger.error({ jobId: job.id }, "malformed delivery job dropped");
        this.#completed.push(job);
        return;
      }
      try {
        const report = await runDeliveryAttempt(this.#deps, parsed.data);
        if (report.nextAt) this.wakeAt(report.nextAt);
        this.#completed.push(job);
      } catch (err) {
        this.#deps.logger.error(
          { jobId: job.id, deliveryId: parsed.data.deliveryId, err },
          "delivery attempt failed to run",
        );
        this.#failed.push({ job, error: String(err) });
      }
    })().finally(() => {
      this.#inflight.delete(job.id);
      this.#scheduleFlush();
      this.wake();
    });
    this.#inflight.set(job.id, p);
  }

  #scheduleFlush(): void {
    if (this.#completed.length >= 50) void this.#flush();
    else this.#flushTimer ??= setTimeout(() => void this.#flush(), 20);
  }

  async #flush(): Promise<void> {
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.#flushTimer = null;
    const done = this.#completed;
    const failed = this.#failed;
    this.#completed = [];
    this.#failed = [];
    try {
      if (done.length)
        await this.#boss.complete(
          QUEUES.deliver,
          done.map((j) => ({ id: j.id, retryCount: j.retryCount })),
        );
      for (const f of failed)
        await this.#boss.fail(
          QUEUES.deliver,
          { id: f.job.id, retryCount: f.job.retryCount },
          { error: f.error },
        );
    } catch (err) {
      // The jobs stay active until their lease expires and are then retried; the delivery row's
      // generation makes the repeat a no-op when the attempt was already recorded.
      this.#deps.logger.warn(
        { err: String(err), jobs: done.length + failed.length },
        "settling delivery jobs failed",
      );
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.#wake = () => {
        this.#wake = null;
        done();
      };
    });
  }

  /**
   * Stops fetching, waits up to `timeoutMs` for requests in flight, then releases the rest back to
   * the queue (failed without penalty, so another worker retries them at once).
   */
  async stop(timeoutMs: number): Promise<{ finished: number; released: number }> {
    this.#stopping = true;
    this.wake();
    await this.#loop;
    const pending = [...this.#inflight.entries()];
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(pending.map(([, p]) => p)),
      new Promise<void>((r) => {
        timer = setTimeout(r, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    const left = [...this.#inflight.keys()];
    if (left.length) {
      this.#deps.logger.warn({ jobIds: left }, "releasing in-flight deliveries at shutdown");
      await this.#boss.fail(QUEUES.deliver, left, { error: "released at shutdown" }).catch(() => {});
    }
    await this.#flush();
    return { finished: pending.length - left.length, released: left.length };
  }
}
