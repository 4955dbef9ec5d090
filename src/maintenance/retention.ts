import type { Deps } from "../deps.ts";
import { idAtTime } from "../lib/ids.ts";

export type RetentionOptions = {
  /** Attempts started longer ago than this (ms) are deleted. */
  attemptsMaxAgeMs: number;
  /** Events created longer ago than this (ms) are deleted with their deliveries and attempts. */
  eventsMaxAgeMs: number;
  /** Idempotency-Key records older than this (ms) are deleted. */
  idempotencyMaxAgeMs: number;
  /** Rows per DELETE statement. */
  batchSize: number;
  /** Statements per table per pass, so one pass stays bounded; the next pass continues. Default 200. */
  maxBatches?: number;
};

export type RetentionResult = {
  attempts: number;
  deliveries: number;
  events: number;
  idempotencyKeys: number;
};

/**
 * Deletes old rows in small batches: each DELETE touches at most `batchSize` rows and commits on
 * its own, so no statement holds row locks for long or blocks the delivery path. Ids are
 * time-sortable (ULID), so "older than" on attempts is a primary-key range scan.
 *
 * Events that still have a pending delivery are kept whatever their age.
 */
export async function pruneOldRows(deps: Deps, opts: RetentionOptions): Promise<RetentionResult> {
  const { sql } = deps;
  const now = deps.now().getTime();
  const maxBatches = opts.maxBatches ?? 200;
  const n = opts.batchSize;
  const result: RetentionResult = { attempts: 0, deliveries: 0, events: 0, idempotencyKeys: 0 };

  const repeat = async (statement: () => Promise<number>): Promise<number> => {
    let total = 0;
    for (let i = 0; i < maxBatches; i++) {
      const count = await statement();
      total += count;
      if (count < n) break;
    }
    return total;
  };

  const attemptCutoff = idAtTime("att", new Date(now - opts.attemptsMaxAgeMs));
  result.attempts += await repeat(async () => {
    const r = await sql`
      delete from attempts where id in (
        select id from attempts where id < ${attemptCutoff} order by id limit ${n})`;
    return r.count;
  });

  const eventCutoff = new Date(now - opts.eventsMaxAgeMs);
  for (let round = 0; round < maxBatches; round++) {
    // A small slice of old events at a time; their children go first, batch by batch.
    const victims = await sql<{ id: string }[]>`
      select e.id from events e
      where e.created_at < ${eventCutoff.toISOString()}::timestamptz
        and not exists (select 1 from deliveries d where d.event_id = e.id and d.status = 'pending')
      order by e.created_at
      limit ${Math.max(1, Math.floor(n / 10))}`;
    if (victims.length === 0) break;
    const ids = victims.map((v) => v.id);
    result.attempts += await repeat(async () => {
      const r = await sql`
        delete from attempts where id in (
          select a.id from attempts a join deliveries d on d.id = a.delivery_id
          where d.event_id in ${sql(ids)} limit ${n})`;
      return r.count;
    });
    result.deliveries += await repeat(async () => {
      const r = await sql`
        delete from deliveries where id in (
          select id from deliveries where event_id in ${sql(ids)} and status <> 'pending' limit ${n})`;
      return r.count;
    });
    const r = await sql`
      delete from events e where e.id in ${sql(ids)}
        and not exists (select 1 from deliveries d where d.event_id = e.id)`;
    result.events += r.count;
    if (r.count === 0) break; // only events that gained a pending delivery meanwhile are left
  }

  const keyCutoff = new Date(now - opts.idempotencyMaxAgeMs);
  result.idempotencyKeys += await repeat(async () => {
    const r = await sql`
      delete from idempotency_keys where ctid in (
        select ctid from idempotency_keys where created_at < ${keyCutoff.toISOString()}::timestamptz limit ${n})`;
    return r.count;
  });

  return result;
}
