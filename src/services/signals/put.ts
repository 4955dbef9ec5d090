import { ingestSnapshots } from "../../detector/detect.ts";
import type { Snapshot } from "../../detector/snapshot.ts";
import { recordAudit } from "../audit/record.ts";
import type { ServiceCtx } from "../context.ts";

export type PutSignalsResult = { batchId: string; accepted: number };

/**
 * Accepts a validated batch of snapshots: stores them in the detector's inbox, enqueues the detect
 * job and writes the audit row, all in one transaction. Detection itself runs in the job.
 */
export async function putSignals(ctx: ServiceCtx, snapshots: readonly Snapshot[]): Promise<PutSignalsResult> {
  const { deps } = ctx;
  return deps.db.transaction(async (tx) => {
    const batchId = await ingestSnapshots(deps, tx, snapshots);
    await recordAudit(tx, ctx, {
      action: "signals.put",
      targetType: "signal_batch",
      targetId: batchId,
      tenantId: null,
      details: {
        count: snapshots.length,
        sources: [...new Set(snapshots.map((s) => s.source))],
        symbols: new Set(snapshots.map((s) => s.symbol)).size,
      },
    });
    return { batchId, accepted: snapshots.length };
  });
}
