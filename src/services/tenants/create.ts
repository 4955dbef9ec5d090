import { type Tenant, tenants } from "../../../db/schema/index.ts";
import { newId } from "../../lib/ids.ts";
import { recordAudit } from "../audit/record.ts";
import type { ServiceCtx } from "../context.ts";

export type CreateTenantInput = { name: string; metadata?: Record<string, string> | undefined };

/** Creates a tenant (operator only; the route checks the role). */
export async function createTenant(ctx: ServiceCtx, input: CreateTenantInput): Promise<Tenant> {
  return ctx.deps.db.transaction(async (tx) => {
    const [tenant] = await tx
      .insert(tenants)
      .values({ id: newId("ten"), name: input.name, metadata: input.metadata ?? {} })
      .returning();
    if (!tenant) throw new Error("insert returned no row");
    await recordAudit(tx, ctx, {
      action: "tenant.create",
      targetType: "tenant",
      targetId: tenant.id,
      tenantId: tenant.id,
      details: { name: tenant.name },
    });
    return tenant;
  });
}
