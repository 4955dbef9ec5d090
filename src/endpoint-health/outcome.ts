import { sql } from "drizzle-orm";
import type { DbOrTx } from "../../db/client.ts";
import type { Deps } from "../deps.ts";

export type CircuitChange = "opened" | "closed" | null;

/**
 * Records an attempt's outcome in the endpoint's health row, in the attempt's transaction.
 * A success resets the failure run and closes the circuit; a failure extends the run, and opens
 * the circuit when the run reaches `threshold` or when the attempt was made half-open (a failed
 * probe reopens it). An open circuit's probe time is `openMs` after it (re)opens.
 * Returns the state change, if any, for logging.
 */
export async function recordEndpointOutcome(
  tx: DbOrTx,
  endpointId: string,
  succeeded: boolean,
  opts: { threshold: number; openMs: number },
): Promise<CircuitChange> {
  if (succeeded) {
    // Matches nothing (and writes nothing) in the common case of a healthy endpoint.
    const rows = await tx.execute<{ before: string }>(sql`
      update endpoint_health h
      set consecutive_failures = 0, circuit_state = 'closed', probe_at = null, opened_at = null
      from (select endpoint_id, circuit_state as before from endpoint_health
            where endpoint_id = ${endpointId} for update) prev
      where h.endpoint_id = prev.endpoint_id and (h.consecutive_failures > 0 or h.circuit_state <> 'closed')
      returning prev.before`);
    return rows[0] && rows[0].before !== "closed" ? "closed" : null;
  }
  const openSecs = opts.openMs / 1000;
  const rows = await tx.execute<{ state: string; opened: boolean }>(sql`
    insert into endpoint_health as h (endpoint_id, consecutive_failures, circuit_state, opened_at, probe_at)
    values (
      ${endpointId}, 1,
      case when ${opts.threshold} <= 1 then 'open' else 'closed' end,
      case when ${opts.threshold} <= 1 then now() end,
      case when ${opts.threshold} <= 1 then now() + make_interval(secs => ${openSecs}) end)
    on conflict (endpoint_id) do update set
      consecutive_failures = h.consecutive_failures + 1,
      circuit_state = case
        when h.circuit_state = 'half_open' or h.consecutive_failures + 1 >= ${opts.threshold} then 'open'
        else h.circuit_state end,
      opened_at = case
        when h.circuit_state = 'half_open' or (h.circuit_state = 'closed' and h.consecutive_failures + 1 >= ${opts.threshold})
        then now() else h.opened_at end,
      probe_at = case
        when h.circuit_state = 'half_open' or (h.circuit_state = 'closed' and h.consecutive_failures + 1 >= ${opts.threshold})
        then now() + make_interval(secs => ${openSecs}) else h.probe_at end
    returning circuit_state as state, opened_at = now() as opened`);
  return rows[0]?.state === "open" && rows[0].opened ? "opened" : null;
}

/** recordEndpointOutcome with the configured threshold and open duration; logs circuit changes. */
export async function recordEndpointHealth(
  deps: Deps,
  tx: DbOrTx,
  endpointId: string,
  succeeded: boolean,
): Promise<CircuitChange> {
  const change = await recordEndpointOutcome(tx, endpointId, succeeded, {
    threshold: deps.config.CIRCUIT_FAILURE_THRESHOLD,
    openMs: deps.config.CIRCUIT_OPEN_DURATION,
  });
  if (change === "opened")
    deps.logger.warn(
      { endpointId, probeInMs: deps.config.CIRCUIT_OPEN_DURATION },
      "endpoint circuit opened: deliveries wait for a probe",
    );
  if (change === "closed")
    deps.logger.info({ endpointId }, "endpoint circuit closed after a successful attempt");
  return change;
}
