import type { Principal } from "../auth/principal.ts";
import type { Deps } from "../deps.ts";

/** What every service verb receives: dependencies plus who is asking and from where. */
export type ServiceCtx = {
  deps: Deps;
  principal: Principal;
  requestId: string;
  sourceIp: string | null;
};

/** Operators see everything; a tenant only its own rows. Returns the tenant to scope by, or null for "all". */
export function tenantScope(ctx: ServiceCtx): string | null {
  return ctx.principal.role === "operator" ? null : ctx.principal.tenantId;
}
