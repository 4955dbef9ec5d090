import { inArray } from "drizzle-orm";
import type { Tx } from "../../../db/client.ts";
import { perRowCount, run, values } from "../../../db/raw.ts";
import { events } from "../../../db/schema/index.ts";
import { fanOutWithinTransaction, inlineCandidates } from "../../delivery/fanout.ts";
import type { Deps } from "../../deps.ts";
import { newId } from "../../lib/ids.ts";

export type NewEvent = {
  /** Chosen by the caller when it must know the id before the insert (newId("evt")). */
  id?: string;
  type: string;
  data: unknown;
  /** null/undefined = every tenant */
  tenantId?: string | null;
  symbol?: string | null;
  /** Event time; defaults to now. */
  occurredAt?: Date;
};

export type StoredEvent = typeof events.$inferSelect;

/**
 * The body every delivery of this event sends, fixed at publish time (Standard Webhooks envelope).
 * JSON.stringify escapes U+2028/2029 nowhere, so they travel as raw UTF-8 and count in content-length.
 */
export function envelope(type: string, occurredAt: Date, data: unknown): string {
  return JSON.stringify({ type, timestamp: occurredAt.toISOString(), data });
}

/**
 * Inserts events and their fan-out in the caller's transaction: their deliveries when few, else a
 * fan-out job (fanOutWithinTransaction). Used by the publish API, the change detector and
 * operational events: a commit has both or neither.
 */
export async function insertEvents(deps: Deps, tx: Tx, input: readonly NewEvent[]): Promise<StoredEvent[]> {
  if (input.length === 0) return [];
  const now = deps.now();
  const rows = input.map((e) => {
    const occurredAt = e.occurredAt ?? now;
    return {
      id: e.id ?? newId("evt"),
      type: e.type,
      tenantId: e.tenantId ?? null,
      symbol: e.symbol ?? null,
      body: envelope(e.type, occurredAt, e.data),
      occurredAt,
    };
  });
  // One round trip for the rows and the endpoints they may go to, one for the deliveries.
  const [created, candidates] = await Promise.all([
    run<{ id: string; created_at: string }>(
      tx,
      INSERT_EVENTS(
        rows.length,
        rows.flatMap((r) => [r.id, r.type, r.tenantId, r.symbol, r.body, r.occurredAt.toISOString()]),
      ),
    ),
    inlineCandidates(deps, tx, rows),
  ]);
  const createdAt = new Map(created.map((c) => [c.id, new Date(c.created_at)]));
  const inserted = rows.map((r) => {
    const at = createdAt.get(r.id);
    if (!at) throw new Error(`insertEvents: no row came back for ${r.id}`);
    return { ...r, createdAt: at };
  });
  await fanOutWithinTransaction(deps, tx, inserted, candidates);
  return inserted;
}

/** Events; the body is not sent back (the caller has it). Constant text per row count (db/raw.ts). */
const INSERT_EVENTS = perRowCount(
  (n) => `
  insert into events (id, type, tenant_id, symbol, body, occurred_at)
  values ${values(n, ["text", "text", "text", "text", "text", "timestamptz"])}
  returning id, created_at`,
);

export async function loadEvents(tx: Tx, ids: readonly string[]): Promise<StoredEvent[]> {
  return ids.length
    ? tx
        .select()
        .from(events)
        .where(inArray(events.id, [...ids]))
    : [];
}
