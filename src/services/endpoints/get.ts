import type { ServiceCtx } from "../context.ts";
import { loadEndpoint } from "./load.ts";
import { type EndpointView, toEndpointView } from "./present.ts";

/** One live endpoint visible to the caller (sensitive header values masked). */
export async function getEndpoint(ctx: ServiceCtx, id: string): Promise<EndpointView> {
  return toEndpointView(await loadEndpoint(ctx.deps.db, ctx, id));
}
