import { eq } from "drizzle-orm";
import type { DbOrTx } from "../../../db/client.ts";
import { type Tenant, tenants } from "../../../db/schema/index.ts";
import { NotFoundError } from "../../errors/index.ts";
import type { ServiceCtx } from "../context.ts";

/** One tenant, deleted ones included (the operator may audit them). */
export async function getTenant(ctx: ServiceCtx, id: string): Promise<Tenant> {
  const [row] = await ctx.deps.db.select().from(tenants).where(eq(tenants.id, id)).limit(1);
  if (!row) throw new NotFoundError("tenant", id);
  return row;
}

/** A live (not deleted) tenant, locked for the rest of the transaction; 404 otherwise. */
export async function lockLiveTenant(tx: DbOrTx, id: string): Promise<Tenant> {
  const [row] = await tx.select().from(tenants).where(eq(tenants.id, id)).for("update").limit(1);
  if (!row || row.deletedAt) throw new NotFoundError("tenant", id);
  return row;
}
