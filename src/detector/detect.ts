import { and, asc, sql as dsql, eq, inArray } from "drizzle-orm";
import { fromDrizzle } from "pg-boss";
import { z } from "zod";
import type { Tx } from "../../db/client.ts";
import { signalSnapshots, signalStates } from "../../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { WAKE_CHANNEL } from "../jobs/enqueue.ts";
import { QUEUES } from "../jobs/queues.ts";
import { newId } from "../lib/ids.ts";
import { insertEvents } from "../services/events/insert.ts";
import { type ChangeEvent, decide, type KeyState } from "./rules.ts";
import type { Snapshot, SnapshotKind, StateValue } from "./snapshot.ts";

/** Payload of a `detect` job: the inbox batch whose keys it drains. */
export const DetectJob = z.object({ batchId: z.string().min(1) });
export type DetectJob = z.infer<typeof DetectJob>;

export type SnapshotKey = { source: string; symbol: string; kind: string; timeframe: string };

export type DetectStats = {
  snapshots: number;
  baseline: number;
  identical: number;
  older: number;
  updated: number;
  events: number;
  byType: Record<string, number>;
};

export function emptyStats(): DetectStats {
  return { snapshots: 0, baseline: 0, identical: 0, older: 0, updated: 0, events: 0, byType: {} };
}

export function addStats(into: DetectStats, s: DetectStats): DetectStats {
  into.snapshots += s.snapshots;
  into.baseline += s.baseline;
  into.identical += s.identical;
  into.older += s.older;
  into.updated += s.updated;
  into.events += s.events;
  for (const [k, v] of Object.entries(s.byType)) into.byType[k] = (into.byType[k] ?? 0) + v;
  return into;
}

/** Rows per INSERT into the inbox (postgres.js has a 65k parameter limit). */
const INSERT_CHUNK = 2000;

/**
 * Stores snapshots in the detector's inbox and enqueues the detect job that will apply them, in
 * the caller's transaction: both commit or neither does. Returns the batch id. `jobStartAfter`
 * delays the job, for a caller that drains the batch itself and wants the job only as a safety net.
 */
export async function ingestSnapshots(
  deps: Deps,
  tx: Tx,
  snapshots: readonly Snapshot[],
  opts: { jobStartAfter?: Date } = {},
): Promise<string> {
  const batchId = newId("job").replace("job_", "snb_");
  if (snapshots.length === 0) return batchId;
  for (let i = 0; i < snapshots.length; i += INSERT_CHUNK) {
    await tx.insert(signalSnapshots).values(
      snapshots.slice(i, i + INSERT_CHUNK).map((s) => ({
        batchId,
        source: s.source,
        symbol: s.symbol,
        kind: s.kind,
        timeframe: s.timeframe,
        value: s.value as Record<string, unknown>,
        observedAt: s.observedAt,
      })),
    );
  }
  const job = {
    data: DetectJob.parse({ batchId }),
    ...(opts.jobStartAfter ? { startAfter: opts.jobStartAfter } : {}),
  };
  await deps.boss.insert(QUEUES.detect, [job], { db: fromDrizzle(tx, dsql) });
  if (!opts.jobStartAfter) await tx.execute(dsql`select pg_notify(${WAKE_CHANNEL}, 'detect')`);
  return batchId;
}

/**
 * The detect job: applies every pending snapshot of every key the batch touched. A key is drained
 * whole (all pending rows, from any batch, oldest first), so jobs may run in any order, twice, or
 * concurrently: the first to lock a key applies its rows, the others find nothing left.
 */
export async function runDetectJob(deps: Deps, job: DetectJob): Promise<DetectStats> {
  const keys = await deps.db
    .selectDistinct({
      source: signalSnapshots.source,
      symbol: signalSnapshots.symbol,
      kind: signalSnapshots.kind,
      timeframe: signalSnapshots.timeframe,
    })
    .from(signalSnapshots)
    .where(eq(signalSnapshots.batchId, job.batchId));
  return drainKeys(deps, keys);
}

/** Drains several keys, one transaction each, in a stable order. */
export async function drainKeys(deps: Deps, keys: readonly SnapshotKey[]): Promise<DetectStats> {
  const total = emptyStats();
  const sorted = [...keys].sort((a, b) => keyString(a).localeCompare(keyString(b)));
  for (const key of sorted) addStats(total, await drainKey(deps, key));
  return total;
}

/**
 * One key, one transaction: lock the key, compare each pending snapshot with the stored state in
 * time order, write the new state, insert the change events (which enqueues their fan-out) and
 * delete the applied inbox rows. A crash anywhere rolls all of it back and the job's retry redoes it.
 */
export async function drainKey(deps: Deps, key: SnapshotKey): Promise<DetectStats> {
  const stats = emptyStats();
  await deps.db.transaction(async (tx) => {
    // The state row may not exist yet (first snapshot), so a row lock alone can't serialise two
    // baselines; an advisory lock on the key can. A hash collision only costs some waiting.
    await tx.execute(dsql`select pg_advisory_xact_lock(hashtextextended(${keyString(key)}, 0))`);
    const where = and(
      eq(signalStates.source, key.source),
      eq(signalStates.symbol, key.symbol),
      eq(signalStates.kind, key.kind),
      eq(signalStates.timeframe, key.timeframe),
    );
    const [row] = await tx.select().from(signalStates).where(where).for("update");
    const pending = await tx
      .select()
      .from(signalSnapshots)
      .where(
        and(
          eq(signalSnapshots.source, key.source),
          eq(signalSnapshots.symbol, key.symbol),
          eq(signalSnapshots.kind, key.kind),
          eq(signalSnapshots.timeframe, key.timeframe),
        ),
      )
      .orderBy(asc(signalSnapshots.observedAt), asc(signalSnapshots.seq));
    if (pending.length === 0) return;

    const initial: KeyState | null = row
      ? { value: row.value as StateValue, emitted: row.emitted as StateValue, observedAt: row.observedAt }
      : null;
    let state = initial;
    const events: ChangeEvent[] = [];
    let firstOlder: Date | null = null;
    for (const p of pending) {
      const snap: Snapshot = {
        source: p.source,
        symbol: p.symbol,
        kind: p.kind as SnapshotKind,
        timeframe: p.timeframe as Snapshot["timeframe"],
        observedAt: p.observedAt,
        value: p.value as StateValue,
      };
      const d = decide(state, snap, { gradeScoreThreshold: deps.config.GRADE_SCORE_THRESHOLD });
      stats.snapshots++;
      if (d.outcome === "changed") {
        events.push(d.event);
        stats.byType[d.event.type] = (stats.byType[d.event.type] ?? 0) + 1;
      } else if (d.outcome === "older") firstOlder ??= p.observedAt;
      stats[d.outcome === "changed" ? "events" : d.outcome]++;
      state = d.state;
    }
    if (stats.older > 0)
      deps.logger.info(
        { ...key, ignored: stats.older, oldest: firstOlder, storedAt: initial?.observedAt },
        "ignored snapshots older than the stored state",
      );

    if (state && state !== initial) {
      await tx
        .insert(signalStates)
        .values({ ...key, value: state.value, emitted: state.emitted, observedAt: state.observedAt })
        .onConflictDoUpdate({
          target: [signalStates.source, signalStates.symbol, signalStates.kind, signalStates.timeframe],
          set: {
            value: state.value,
            emitted: state.emitted,
            observedAt: state.observedAt,
            updatedAt: dsql`now()`,
          },
        });
    }
    await insertEvents(
      deps,
      tx,
      events.map((e) => ({ type: e.type, data: e.data, symbol: e.symbol, occurredAt: e.occurredAt })),
    );
    await tx.delete(signalSnapshots).where(
      inArray(
        signalSnapshots.seq,
        pending.map((p) => p.seq),
      ),
    );
  });
  return stats;
}

function keyString(k: SnapshotKey): string {
  return `${k.source}|${k.symbol}|${k.kind}|${k.timeframe}`;
}
