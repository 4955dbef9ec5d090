import { and, desc, eq, isNull, lt } from "drizzle-orm";
import { endpoints } from "../../../db/schema/index.ts";
import { type ServiceCtx, tenantScope } from "../context.ts";
import { type EndpointView, toEndpointView } from "./present.ts";

export type ListEndpointsInput = {
  limit: number;
  cursor?: string | undefined;
  disabled?: boolean | undefined;
  /** Operator filter; ignored in favour of the caller's own tenant for tenant keys. */
  tenantId?: string | undefined;
};

/** Live endpoints visible to the caller, newest first. Fetches one extra row to tell whether more exist. */
export async function listEndpoints(ctx: ServiceCtx, input: ListEndpointsInput): Promise<EndpointView[]> {
  const tenant = tenantScope(ctx) ?? input.tenantId;
  const rows = await ctx.deps.db
    .select()
    .from(endpoints)
    .where(
      and(
        isNull(endpoints.deletedAt),
        tenant ? eq(endpoints.tenantId, tenant) : undefined,
        input.disabled === undefined ? undefined : eq(endpoints.disabled, input.disabled),
        input.cursor ? lt(endpoints.id, input.cursor) : undefined,
      ),
    )
    .orderBy(desc(endpoints.id))
    .limit(input.limit + 1);
  return rows.map(toEndpointView);
}
