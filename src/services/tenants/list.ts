import { and, desc, isNull, lt } from "drizzle-orm";
import { type Tenant, tenants } from "../../../db/schema/index.ts";
import type { ServiceCtx } from "../context.ts";

export type ListTenantsInput = { limit: number; cursor?: string | undefined; includeDeleted: boolean };

/** Newest first. Fetches one row more than `limit` so the caller can tell whether more exist. */
export async function listTenants(ctx: ServiceCtx, input: ListTenantsInput): Promise<Tenant[]> {
  return ctx.deps.db
    .select()
    .from(tenants)
    .where(
      and(
        input.includeDeleted ? undefined : isNull(tenants.deletedAt),
        input.cursor ? lt(tenants.id, input.cursor) : undefined,
      ),
    )
    .orderBy(desc(tenants.id))
    .limit(input.limit + 1);
}
