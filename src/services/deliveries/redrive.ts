import { and, asc, count, eq, gt, gte, inArray, isNotNull, isNull, or, type SQL, sql } from "drizzle-orm";
import { deliveries, endpoints } from "../../../db/schema/index.ts";
import { ValidationError } from "../../errors/index.ts";
import { recordAudit } from "../audit/record.ts";
import { type ServiceCtx, tenantScope } from "../context.ts";
import { restartDeliveries } from "./restart.ts";

/** Deliveries restarted per transaction. */
export const REDRIVE_BATCH = 500;

export type RedriveInput = {
  deliveryIds?: string[] | undefined;
  endpointId?: string | undefined;
  /** Dead-lettered at or after. */
  since?: Date | undefined;
};

export type RedriveResult = {
  redriven: number;
  skipped: number;
  /** Given ids with no delivery visible to the caller (unknown, or another tenant's). */
  notFound: string[];
  /** Given ids whose delivery is not a dead letter matching the request (so was left alone). */
  notDead: string[];
};

/**
 * Redrives the caller's dead deliveries matching every given selector (at least one is required),
 * in batches of REDRIVE_BATCH, each batch its own transaction with its own audit row. Walks ids in
 * ascending order once, so a delivery that dies again during the run is not picked up twice.
 * Dead deliveries of deleted or disabled endpoints are counted as skipped. With `deliveryIds`,
 * every distinct id is accounted for: redriven, skipped, notFound or notDead.
 */
export async function redriveDeadLetters(ctx: ServiceCtx, input: RedriveInput): Promise<RedriveResult> {
  if (!input.deliveryIds && !input.endpointId && !input.since)
    throw new ValidationError("the request body is invalid", [
      { path: "body", message: "name deliveryIds, endpointId or since (or a combination)", code: "required" },
    ]);
  const tenant = tenantScope(ctx);
  const { db } = ctx.deps;
  const ids = input.deliveryIds ? [...new Set(input.deliveryIds)] : undefined;
  const visible = and(
    tenant ? eq(deliveries.tenantId, tenant) : undefined,
    ids ? inArray(deliveries.id, ids.length ? ids : [""]) : undefined,
  );
  const selected = and(
    eq(deliveries.status, "dead"),
    visible,
    input.endpointId ? eq(deliveries.endpointId, input.endpointId) : undefined,
    input.since ? gte(deliveries.completedAt, input.since) : undefined,
  );
  const redrivenIds = new Set<string>();
  let redriven = 0;
  let after = "";
  for (;;) {
    const batch = await db
      .select({ id: deliveries.id })
      .from(deliveries)
      .innerJoin(endpoints, eq(endpoints.id, deliveries.endpointId))
      .where(
        and(selected, gt(deliveries.id, after), eq(endpoints.disabled, false), isNull(endpoints.deletedAt)),
      )
      .orderBy(asc(deliveries.id))
      .limit(REDRIVE_BATCH);
    const last = batch.at(-1);
    if (!last) break;
    after = last.id;
    const ids = batch.map((b) => b.id);
    const done = await db.transaction(async (tx) => {
      const restarted = await restartDeliveries(ctx.deps, tx, ids, { onlyStatus: "dead" });
      // One audit row per tenant touched, so each tenant's own audit log shows the redrive.
      const byTenant = new Map<string, typeof restarted>();
      for (const d of restarted) byTenant.set(d.tenantId, [...(byTenant.get(d.tenantId) ?? []), d]);
      for (const [tenantId, rows] of byTenant)
        await recordAudit(tx, ctx, {
          action: "dead_letter.redrive",
          targetType: "delivery",
          targetId: rows.length === 1 ? (rows[0]?.id ?? null) : null,
          tenantId,
          details: {
            count: rows.length,
            ...(input.endpointId ? { endpointId: input.endpointId } : {}),
            ...(input.since ? { since: input.since.toISOString() } : {}),
          },
        });
      return restarted;
    });
    redriven += done.length;
    if (ids) for (const d of done) redrivenIds.add(d.id);
    if (batch.length < REDRIVE_BATCH) break;
  }
  if (ids) return { redriven, ...(await accountFor(ctx, ids, visible, selected, redrivenIds)) };
  const [skipped] = await db
    .select({ n: count() })
    .from(deliveries)
    .innerJoin(endpoints, eq(endpoints.id, deliveries.endpointId))
    .where(and(selected, or(eq(endpoints.disabled, true), isNotNull(endpoints.deletedAt))));
  return { redriven, skipped: skipped?.n ?? 0, notFound: [], notDead: [] };
}

/** Sorts the given ids that were not redriven into skipped, notFound and notDead, in request order. */
async function accountFor(
  ctx: ServiceCtx,
  ids: readonly string[],
  visible: SQL | undefined,
  selected: SQL | undefined,
  redrivenIds: ReadonlySet<string>,
): Promise<Omit<RedriveResult, "redriven">> {
  const rows = await ctx.deps.db
    .select({
      id: deliveries.id,
      selected: sql<boolean>`coalesce(${selected}, false)`,
      endpointGone: sql<boolean>`(${endpoints.disabled} or ${endpoints.deletedAt} is not null)`,
    })
    .from(deliveries)
    .innerJoin(endpoints, eq(endpoints.id, deliveries.endpointId))
    .where(visible);
  const byId = new Map(rows.map((r) => [r.id, r]));
  const result: Omit<RedriveResult, "redriven"> = { skipped: 0, notFound: [], notDead: [] };
  for (const id of ids) {
    if (redrivenIds.has(id)) continue;
    const row = byId.get(id);
    if (!row) result.notFound.push(id);
    else if (row.selected && row.endpointGone) result.skipped++;
    else result.notDead.push(id);
  }
  return result;
}
