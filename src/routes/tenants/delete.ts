import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { deleteTenant } from "../../services/tenants/delete.ts";
import { errorResponses, guard, IdParam, security, serviceCtx } from "../common.ts";
import type { AppEnv } from "../env.ts";

const route = createRoute({
  method: "delete",
  path: "/v1/tenants/{id}",
  tags: ["tenants"],
  summary: "Delete a tenant (soft)",
  description:
    "Its API keys stop working at once, its endpoints are disabled (`disabledReason`: `tenant deleted`) and their pending deliveries are cancelled, in one transaction. Its endpoints, delivery log and audit rows stay readable to the operator.",
  security,
  middleware: [guard({ operator: true, scopes: ["tenants:admin"] })] as const,
  request: { params: IdParam("ten", "01JF3Z8Q4K2M6N8P0R2T4V6X8Z") },
  responses: { 204: { description: "Deleted" }, ...errorResponses },
});

export function registerDeleteTenant(r: OpenAPIHono<AppEnv>): void {
  r.openapi(route, async (c) => {
    await deleteTenant(serviceCtx(c), c.req.valid("param").id);
    return c.body(null, 204);
  });
}
