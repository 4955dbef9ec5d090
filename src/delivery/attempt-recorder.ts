import type { Deps } from "../deps.ts";
import { inCauses } from "../lib/pg-errors.ts";
import type { AttemptReport } from "./attempt.ts";
import { isTransientDbError } from "./db-errors.ts";
import { type RecordItem, recordAttemptBatch } from "./record-batch.ts";

/** Batches written concurrently by one recorder: one can fill while another commits. */
const MAX_FLUSHES = 2;

type Waiting = { item: RecordItem; resolve: (r: AttemptReport) => void; reject: (err: unknown) => void };

/**
 * Buffers finished attempts and records them with recordAttemptBatch: results that finish while
 * batches are being written go into the next one (at most `maxBatch` each, at most MAX_FLUSHES
 * transactions at a time), so under load a transaction carries many attempts and at low load each
 * is written at once.
 */
export class AttemptRecorder {
  readonly #deps: Deps;
  readonly #maxBatch: number;
  #queue: Waiting[] = [];
  #timer: NodeJS.Timeout | null = null;
  /** Batches being written now (at most MAX_FLUSHES). */
  #running = 0;

  constructor(deps: Deps, opts: { maxBatch: number }) {
    this.#deps = deps;
    this.#maxBatch = Math.max(1, opts.maxBatch);
  }

  record(item: RecordItem): Promise<AttemptReport> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#running >= MAX_FLUSHES || this.#timer || this.#queue.length === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#running++;
      void this.#drain().finally(() => {
        this.#running--;
        this.#schedule();
      });
      this.#schedule();
    }, 0);
  }

  async #drain(): Promise<void> {
    const batch: Waiting[] = [];
    const rest: Waiting[] = [];
    const seen = new Set<string>();
    for (const w of this.#queue) {
      const id = w.item.recording.delivery.id;
      // A second result for the same delivery waits for the next batch, so its number follows.
      if (batch.length < this.#maxBatch && !seen.has(id)) {
        batch.push(w);
        seen.add(id);
      } else rest.push(w);
    }
    this.#queue = rest;
    try {
      const items = batch.map((w) => w.item);
      const reports = await recordAttemptBatch(this.#deps, items).catch((err: unknown) => {
        // Batches from several workers can deadlock on shared rows; the loser simply goes again.
        if (!isLockConflict(err)) throw err;
        return recordAttemptBatch(this.#deps, items);
      });
      batch.forEach((w, i) => {
        w.resolve(reports[i] as AttemptReport);
      });
    } catch (err) {
      if (batch.length === 1 || isTransientDbError(err)) {
        for (const w of batch) w.reject(err);
        return;
      }
      // One result that cannot be stored must not take its neighbours down: each on its own.
      this.#deps.logger.warn(
        { err, attempts: batch.length },
        "recording a batch failed; recording one by one",
      );
      for (const w of batch)
        await recordAttemptBatch(this.#deps, [w.item]).then(
          (r) => w.resolve(r[0] as AttemptReport),
          (e: unknown) => w.reject(e),
        );
    }
  }
}

/** A deadlock or serialization failure (the whole transaction was rolled back; running it again is safe). */
function isLockConflict(err: unknown): boolean {
  return inCauses(err, (e) => e.code === "40P01" || e.code === "40001", 5);
}
