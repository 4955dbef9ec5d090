import { decodeTime } from "ulid";
import type { AttemptReport } from "../delivery/attempt.ts";
import type { Deps } from "../deps.ts";

/**
 * Records one finished delivery attempt in the process metrics. Called by the delivery engine
 * after the attempt's transaction commits. Publish time comes from the event id (a ULID minted at
 * publish), so no extra query is needed.
 */
export function recordAttemptMetrics(
  deps: Deps,
  report: AttemptReport,
  at: { firstAttempt: boolean; eventId: string; startedAt: Date },
): void {
  if (report.outcome === "skipped") return;
  let publishToAttemptMs: number | undefined;
  if (at.firstAttempt) {
    try {
      publishToAttemptMs = at.startedAt.getTime() - decodeTime(at.eventId.slice(at.eventId.indexOf("_") + 1));
    } catch {
      publishToAttemptMs = undefined; // not a ULID-based id
    }
  }
  deps.metrics.observeAttempt({
    outcome: report.outcome,
    durationMs: report.durationMs ?? 0,
    ...(report.next ? { next: report.next } : {}),
    ...(publishToAttemptMs !== undefined ? { publishToAttemptMs } : {}),
  });
}
