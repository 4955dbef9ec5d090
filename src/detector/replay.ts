import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import type { Deps } from "../deps.ts";
import {
  addStats,
  type DetectStats,
  drainKeys,
  emptyStats,
  ingestSnapshots,
  type SnapshotKey,
} from "./detect.ts";
import { DEFAULT_MODEL, type ModelOptions, modelSnapshots } from "./model.ts";
import { type PricePoint, parsePriceCsv } from "./prices.ts";
import { type Snapshot, SnapshotSchema, toSnapshot } from "./snapshot.ts";

export class ReplayInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReplayInputError";
  }
}

export type ReplayInput = {
  format: "snapshots" | "prices";
  /** Data rows read (lines of JSON, or CSV rows). */
  rows: number;
  symbols: string[];
  /** In time order (stable for equal times). */
  snapshots: Snapshot[];
};

/**
 * Reads a replay file, whole, and validates every row before anything is applied: JSON lines of
 * snapshots (the `PUT /v1/signals` row shape), or a price CSV run through the reference model.
 */
export async function readReplayInput(
  file: string,
  opts: { source: string; symbol?: string; model?: ModelOptions },
): Promise<ReplayInput> {
  const text = await readFile(file, "utf8");
  const ext = extname(file).toLowerCase();
  const looksJson =
    ext === ".jsonl" || ext === ".ndjson" || (ext !== ".csv" && text.trimStart().startsWith("{"));
  if (looksJson) return readSnapshotLines(text, opts.source);
  let points: PricePoint[];
  try {
    points = parsePriceCsv(text, opts.symbol ? { symbol: opts.symbol } : {});
  } catch (err) {
    throw new ReplayInputError((err as Error).message);
  }
  const bySymbol = new Map<string, PricePoint[]>();
  for (const p of points) bySymbol.set(p.symbol, [...(bySymbol.get(p.symbol) ?? []), p]);
  const snapshots: Snapshot[] = [];
  for (const series of bySymbol.values()) {
    series.sort((a, b) => a.date.getTime() - b.date.getTime());
    snapshots.push(...modelSnapshots(series, opts.source, opts.model ?? DEFAULT_MODEL));
  }
  return {
    format: "prices",
    rows: points.length,
    symbols: [...bySymbol.keys()],
    snapshots: timeOrder(snapshots),
  };
}

function readSnapshotLines(text: string, source: string): ReplayInput {
  const snapshots: Snapshot[] = [];
  let rows = 0;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]?.trim();
    if (!line) continue;
    rows++;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      throw new ReplayInputError(`line ${i + 1}: not JSON`);
    }
    const parsed = SnapshotSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ReplayInputError(
        `line ${i + 1}: ${issue?.path.join(".") || "(row)"}: ${issue?.message ?? "invalid"}`,
      );
    }
    snapshots.push(toSnapshot(source, parsed.data));
  }
  return {
    format: "snapshots",
    rows,
    symbols: [...new Set(snapshots.map((s) => s.symbol))],
    snapshots: timeOrder(snapshots),
  };
}

function timeOrder(snapshots: Snapshot[]): Snapshot[] {
  return snapshots
    .map((s, i) => ({ s, i }))
    .sort((a, b) => a.s.observedAt.getTime() - b.s.observedAt.getTime() || a.i - b.i)
    .map((x) => x.s);
}

/** Delay of the safety-net detect job of an inline replay batch. */
const SAFETY_NET_DELAY_MS = 5 * 60_000;

export type ReplayProgress = { done: number; total: number; stats: DetectStats };

export type FeedOptions = {
  /** Snapshots per transaction. Default 500. */
  batchSize?: number;
  /**
   * `inline` (default) drains each batch in this process right after storing it; `jobs` only
   * stores batches and enqueues their detect jobs, for the workers to apply.
   */
  mode?: "inline" | "jobs";
  onProgress?: (p: ReplayProgress) => void;
};

/**
 * Feeds snapshots into the detector in time order, batch by batch, through the same inbox and
 * detect path as `PUT /v1/signals`.
 */
export async function feedSnapshots(
  deps: Deps,
  snapshots: readonly Snapshot[],
  opts: FeedOptions = {},
): Promise<DetectStats> {
  const size = opts.batchSize ?? 500;
  const stats = emptyStats();
  for (let i = 0; i < snapshots.length; i += size) {
    const batch = snapshots.slice(i, i + size);
    if ((opts.mode ?? "inline") === "inline") {
      // The detect job is only a safety net (should this process die before draining), so it
      // starts late: workers running meanwhile find the batch already applied.
      const jobStartAfter = new Date(deps.now().getTime() + SAFETY_NET_DELAY_MS);
      await deps.db.transaction((tx) => ingestSnapshots(deps, tx, batch, { jobStartAfter }));
      addStats(stats, await drainKeys(deps, keysOf(batch)));
    } else {
      await deps.db.transaction((tx) => ingestSnapshots(deps, tx, batch));
    }
    opts.onProgress?.({ done: Math.min(i + size, snapshots.length), total: snapshots.length, stats });
  }
  return stats;
}

function keysOf(batch: readonly Snapshot[]): SnapshotKey[] {
  const keys = new Map<string, SnapshotKey>();
  for (const s of batch)
    keys.set(`${s.source}|${s.symbol}|${s.kind}|${s.timeframe}`, {
      source: s.source,
      symbol: s.symbol,
      kind: s.kind,
      timeframe: s.timeframe,
    });
  return [...keys.values()];
}
