import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { getTenant } from "../../services/tenants/get.ts";
import { errorResponses, guard, IdParam, security, serviceCtx } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { TenantSchema, toTenant } from "./schema.ts";

const route = createRoute({
  method: "get",
  path: "/v1/tenants/{id}",
  tags: ["tenants"],
  summary: "Get a tenant (deleted ones too, with `deletedAt` set)",
  security,
  middleware: [guard({ operator: true, scopes: ["tenants:admin"] })] as const,
  request: { params: IdParam("ten", "01JF3Z8Q4K2M6N8P0R2T4V6X8Z") },
  responses: {
    200: { description: "The tenant", content: { "application/json": { schema: TenantSchema } } },
    ...errorResponses,
  },
});

export function registerGetTenant(r: OpenAPIHono<AppEnv>): void {
  r.openapi(route, async (c) => {
    const tenant = await getTenant(serviceCtx(c), c.req.valid("param").id);
    return c.json(toTenant(tenant), 200);
  });
}
