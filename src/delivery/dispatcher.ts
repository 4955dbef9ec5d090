import type { Job, PgBoss } from "pg-boss";
import type { Deps } from "../deps.ts";
import { concurrencyTiers, deliveryJobsWaiting, settleDeliveryJobs } from "../jobs/enqueue.ts";
import { DeliverJob, QUEUES } from "../jobs/queues.ts";
import { runDeliveryAttempt } from "./attempt.ts";
import { AttemptRecorder } from "./attempt-recorder.ts";
import { rootErrorMessage } from "./db-errors.ts";
import { type LoadedDelivery, loadDeliveries } from "./load.ts";

export type DispatcherOptions = {
  /** Concurrent deliveries in this process. */
  concurrency: number;
  /** Concurrent deliveries per endpoint across all workers, unless the endpoint sets its own. */
  endpointConcurrency: number;
  /** Idle poll interval in ms (new work also wakes the loop through LISTEN/NOTIFY). */
  pollMs: number;
};

/** Retries due within this horizon get a wake-up timer; later ones are found by the idle poll. */
export const WAKE_HORIZON_MS = 60_000;
/** Due times are rounded up to this step, so retries due together share one wake-up. */
const WAKE_STEP_MS = 10;
/** Most attempts recorded (and their jobs settled) in one transaction. */
const RECORD_BATCH = 50;

/**
 * Pulls delivery jobs from pg-boss in batches and runs each on its own, so one slow endpoint
 * never holds a batch hostage. Per-endpoint limits use pg-boss group concurrency (the database
 * counts active jobs per endpoint across every worker process). A fetched batch's deliveries are
 * loaded together (loadDeliveries), and finished attempts are recorded together with their jobs'
 * completion (AttemptRecorder); other completions are batched too.
 */
export class DeliveryDispatcher {
  readonly #deps: Deps;
  readonly #boss: PgBoss;
  readonly #opts: DispatcherOptions;
  readonly #inflight = new Map<string, { done: Promise<void>; abort: AbortController; job: Job<unknown> }>();
  #completed: Job<unknown>[] = [];
  #failed: { job: Job<unknown>; error: string }[] = [];
  #stopping = false;
  #wake: (() => void) | null = null;
  /** A wake-up that arrived while the loop was not sleeping (e.g. mid-fetch); the next sleep is skipped. */
  #woken = false;
  #loop: Promise<void> | null = null;
  #flushTimer: NodeJS.Timeout | null = null;
  /** Pending wake-up times (ms, ascending, distinct); one timer is armed for the earliest. */
  readonly #wakeTimes: number[] = [];
  #wakeTimer: NodeJS.Timeout | null = null;
  #wakeTimerAt = Number.POSITIVE_INFINITY;
  readonly #tiers = concurrencyTiers();
  readonly #recorder: AttemptRecorder;
  /** The loop is waiting for a free slot (every slot was taken when it last looked). */
  #full = false;
  /** A due-work check is running; `#probeAgain`: a slot was freed meanwhile, check once more. */
  #probing = false;
  #probeAgain = false;

  constructor(deps: Deps, opts: DispatcherOptions) {
    this.#deps = deps;
    this.#boss = deps.boss;
    this.#opts = opts;
    this.#recorder = new AttemptRecorder(deps, { maxBatch: RECORD_BATCH });
  }

  start(): void {
    this.#loop = this.#run();
  }

  /** Wake the fetch loop now (new work was committed, or a slot freed). */
  wake(): void {
    this.#woken = true;
    this.#wake?.();
  }

  /**
   * Wake the loop at a time (a retry scheduled by this process), so it starts on time rather than
   * up to a poll interval late. Times within WAKE_HORIZON_MS are kept (rounded to WAKE_STEP_MS, so
   * at most horizon/step of them) and one timer is armed for the earliest; later ones are left to
   * the poll. Retries scheduled by other processes are found by polling.
   */
  wakeAt(at: Date): void {
    const now = Date.now();
    const due = Math.ceil(at.getTime() / WAKE_STEP_MS) * WAKE_STEP_MS;
    if (this.#stopping || due - now > WAKE_HORIZON_MS) return;
    if (due <= now) {
      this.wake();
      return;
    }
    const times = this.#wakeTimes;
    let lo = 0;
    let hi = times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((times[mid] ?? 0) < due) lo = mid + 1;
      else hi = mid;
    }
    if (times[lo] !== due) times.splice(lo, 0, due);
    this.#armWakeTimer();
  }

  #armWakeTimer(): void {
    const next = this.#wakeTimes[0];
    if (next === undefined || next >= this.#wakeTimerAt) return;
    if (this.#wakeTimer) clearTimeout(this.#wakeTimer);
    this.#wakeTimerAt = next;
    // A few ms late, so the database (same clock) already counts the job as due.
    this.#wakeTimer = setTimeout(
      () => {
        this.#wakeTimer = null;
        this.#wakeTimerAt = Number.POSITIVE_INFINITY;
        let n = 0;
        while (n < this.#wakeTimes.length && (this.#wakeTimes[n] ?? 0) <= next) n++;
        this.#wakeTimes.splice(0, n);
        this.wake();
        this.#armWakeTimer();
      },
      Math.max(0, next - Date.now()) + 5,
    );
    this.#wakeTimer.unref();
  }

  get inflight(): number {
    return this.#inflight.size;
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      const free = this.#opts.concurrency - this.#inflight.size;
      this.#full = free <= 0;
      if (this.#full) {
        await this.#sleep(this.#opts.pollMs);
        continue;
      }
      const want = Math.min(free, 100);
      // Everything committed before this fetch is seen by it; only later wake-ups count.
      this.#woken = false;
      let jobs: Job<unknown>[] = [];
      try {
        jobs = await this.#boss.fetch(QUEUES.deliver, {
          batchSize: want,
          groupConcurrency: { default: this.#opts.endpointConcurrency, tiers: this.#tiers },
        });
      } catch (err) {
        this.#deps.logger.warn({ err }, "fetching delivery jobs failed; retrying");
        await this.#sleep(1000);
        continue;
      }
      const loaded = await this.#load(jobs);
      for (const job of jobs) this.#start(job, loaded);
      if (jobs.length < want) await this.#sleep(this.#opts.pollMs);
    }
  }

  /** The fetched jobs' deliveries in two queries; null (each job loads its own) if that fails. */
  async #load(jobs: readonly Job<unknown>[]): Promise<Map<string, LoadedDelivery> | null> {
    const ids = jobs.flatMap((j) => {
      const p = DeliverJob.safeParse(j.data);
      return p.success ? [p.data.deliveryId] : [];
    });
    try {
      return await loadDeliveries(this.#deps, ids);
    } catch (err) {
      this.#deps.logger.warn({ err }, "loading a batch of deliveries failed; loading one by one");
      return null;
    }
  }

  #start(job: Job<unknown>, loaded: Map<string, LoadedDelivery> | null): void {
    const abort = new AbortController();
    /** From the recording transaction: whether due jobs waited when this one was settled. */
    let waiting: boolean | undefined;
    const p = (async () => {
      const parsed = DeliverJob.safeParse(job.data);
      if (!parsed.success) {
        this.#deps.logger.error({ jobId: job.id }, "malformed delivery job dropped");
        this.#completed.push(job);
        return;
      }
      try {
        const settle = { id: job.id, retryCount: job.retryCount };
        const report = await runDeliveryAttempt(this.#deps, parsed.data, {
          signal: abort.signal,
          ...(loaded ? { loaded: loaded.get(parsed.data.deliveryId) ?? null } : {}),
          record: (item) => this.#recorder.record({ ...item, settle }),
        });
        if (report.nextAt) this.wakeAt(report.nextAt);
        if (!report.jobSettled) this.#completed.push(job);
        else waiting = report.dueJobsWaiting;
      } catch (err) {
        this.#deps.logger.error(
          { jobId: job.id, deliveryId: parsed.data.deliveryId, err },
          "delivery attempt failed to run",
        );
        this.#failed.push({
          job,
          error: abort.signal.aborted ? "released at shutdown" : rootErrorMessage(err),
        });
      }
    })().finally(() => {
      this.#inflight.delete(job.id);
      this.#scheduleFlush();
      this.#slotFreed(waiting);
    });
    this.#inflight.set(job.id, { done: p, abort, job });
  }

  /**
   * Settles finished jobs on the next turn of the event loop: completions that finish together
   * share one statement. Not later than that: until the completion lands, the database still
   * counts the job against its endpoint's concurrency, so a delay here throttles every endpoint.
   */
  #scheduleFlush(): void {
    this.#flushTimer ??= setTimeout(() => void this.#flush(), 0);
  }

  async #flush(): Promise<void> {
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.#flushTimer = null;
    const done = this.#completed;
    const failed = this.#failed;
    this.#completed = [];
    this.#failed = [];
    try {
      await settleDeliveryJobs(
        this.#boss,
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
      this.#deps.logger.warn({ err, jobs: done.length + failed.length }, "settling delivery jobs failed");
    }
    // Settled jobs free their endpoints' slots only now: fetch again if anything waits for one.
    if (done.length || failed.length) this.#slotFreed();
  }

  /**
   * A delivery finished, freeing a slot here and (once its job is settled) one of its endpoint's.
   * Fetching again is only worth it when something is waiting: the loop was out of slots, or
   * due jobs are queued (held back by an endpoint's concurrency limit, the one thing a finished
   * job can release). Otherwise the fetch (the queue's most expensive statement) would find
   * nothing: new work wakes the loop through NOTIFY anyway. `waiting` is the answer the recording
   * transaction already got (deliveryJobsWaiting); without it, that check runs here, and
   * finishes that land while one runs share one more check after it (a wake-up then comes after
   * their jobs were settled, so the fetch it starts sees their endpoints' slots free).
   */
  #slotFreed(waiting?: boolean): void {
    if (this.#stopping) return;
    if (this.#full || waiting === true) {
      this.wake();
      return;
    }
    if (waiting === false) return;
    if (this.#probing) {
      this.#probeAgain = true;
      return;
    }
    this.#probing = true;
    void (async () => {
      do {
        this.#probeAgain = false;
        if (await deliveryJobsWaiting(this.#deps.db).catch(() => true)) {
          this.wake();
          break;
        }
      } while (this.#probeAgain && !this.#stopping);
      this.#probing = false;
    })();
  }

  #sleep(ms: number): Promise<void> {
    if (this.#woken) {
      this.#woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.#wake = null;
        resolve();
      };
      const t = setTimeout(done, ms);
      this.#wake = done;
    });
  }

  /**
   * Stops fetching and waits up to `timeoutMs` for requests in flight. Requests still running then
   * are cut: each is recorded as an `aborted` attempt and rescheduled at once (see
   * runDeliveryAttempt), so another worker takes it over without a live request overlapping it.
   * A job whose attempt could not be recorded is failed back to the queue (pg-boss retries it).
   */
  async stop(timeoutMs: number): Promise<{ finished: number; released: number }> {
    this.#stopping = true;
    if (this.#wakeTimer) clearTimeout(this.#wakeTimer);
    this.#wakeTimer = null;
    this.#wakeTimerAt = Number.POSITIVE_INFINITY;
    this.#wakeTimes.length = 0;
    this.wake();
    await this.#loop;
    const pending = [...this.#inflight.values()];
    const settled = (ms: number) => {
      let timer: NodeJS.Timeout | undefined;
      return Promise.race([
        Promise.allSettled([...this.#inflight.values()].map((f) => f.done)),
        new Promise<void>((r) => {
          timer = setTimeout(r, ms);
        }),
      ]).finally(() => clearTimeout(timer));
    };
    await settled(timeoutMs);
    const cut = [...this.#inflight.values()];
    if (cut.length) {
      this.#deps.logger.warn(
        { jobIds: cut.map((f) => f.job.id) },
        "aborting in-flight deliveries at shutdown",
      );
      for (const f of cut) f.abort.abort();
      // Recording an aborted attempt is one short transaction; don't wait on a stuck database forever.
      await settled(5_000);
    }
    const stuck = [...this.#inflight.values()].map((f) => f.job);
    if (stuck.length)
      await this.#boss
        .fail(
          QUEUES.deliver,
          stuck.map((j) => ({ id: j.id, retryCount: j.retryCount })),
          { error: "released at shutdown" },
        )
        .catch(() => {});
    await this.#flush();
    return { finished: pending.length - cut.length, released: cut.length };
  }
}
