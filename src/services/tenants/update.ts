import { eq, sql } from "drizzle-orm";
import { type Tenant, tenants } from "../../../db/schema/index.ts";
import { recordAudit } from "../audit/record.ts";
import type { ServiceCtx } from "../context.ts";
import { lockLiveTenant } from "./get.ts";

export type UpdateTenantInput = { name?: string | undefined; metadata?: Record<string, string> | undefined };

/** Renames a tenant and/or replaces its metadata. Deleted tenants are gone (404). */
export async function updateTenant(ctx: ServiceCtx, id: string, input: UpdateTenantInput): Promise<Tenant> {
  return ctx.deps.db.transaction(async (tx) => {
    await lockLiveTenant(tx, id);
    const [tenant] = await tx
      .update(tenants)
      .set({
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.metadata !== undefined ? { metadata: input.metadata } : {}),
        updatedAt: sql`now()`,
      })
      .where(eq(tenants.id, id))
      .returning();
    if (!tenant) throw new Error("update returned no row");
    await recordAudit(tx, ctx, {
      action: "tenant.update",
      targetType: "tenant",
      targetId: id,
      tenantId: id,
      details: {
        fields: Object.keys(input).filter((k) => input[k as keyof UpdateTenantInput] !== undefined),
      },
    });
    return tenant;
  });
}
