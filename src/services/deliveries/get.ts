import { and, asc, eq } from "drizzle-orm";
import type { DbOrTx } from "../../../db/client.ts";
import { attempts, type Delivery, deliveries } from "../../../db/schema/index.ts";
import { NotFoundError } from "../../errors/index.ts";
import { type ServiceCtx, tenantScope } from "../context.ts";
import { type AttemptView, type DeliveryView, toAttemptView, toDeliveryView } from "./present.ts";

/** A delivery visible to the caller, or 404 (also for another tenant's id). */
export async function loadDelivery(
  tx: DbOrTx,
  ctx: ServiceCtx,
  id: string,
  opts: { forUpdate?: boolean } = {},
): Promise<Delivery> {
  const tenant = tenantScope(ctx);
  const q = tx
    .select()
    .from(deliveries)
    .where(and(eq(deliveries.id, id), tenant ? eq(deliveries.tenantId, tenant) : undefined))
    .limit(1);
  const [row] = opts.forUpdate ? await q.for("update") : await q;
  if (!row) throw new NotFoundError("delivery", id);
  return row;
}

/** Every attempt of a delivery, in order. */
export async function listAttempts(ctx: ServiceCtx, deliveryId: string): Promise<AttemptView[]> {
  const delivery = await loadDelivery(ctx.deps.db, ctx, deliveryId);
  return attemptsOf(ctx.deps.db, delivery.id);
}

/** A delivery with all its attempts, in order. */
export async function getDelivery(
  ctx: ServiceCtx,
  id: string,
): Promise<DeliveryView & { attempts: AttemptView[] }> {
  const delivery = await loadDelivery(ctx.deps.db, ctx, id);
  return { ...toDeliveryView(delivery), attempts: await attemptsOf(ctx.deps.db, delivery.id) };
}

async function attemptsOf(db: DbOrTx, deliveryId: string): Promise<AttemptView[]> {
  const rows = await db
    .select()
    .from(attempts)
    .where(eq(attempts.deliveryId, deliveryId))
    .orderBy(asc(attempts.number), asc(attempts.id));
  return rows.map(toAttemptView);
}
