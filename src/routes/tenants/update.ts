import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { updateTenant } from "../../services/tenants/update.ts";
import { errorResponses, guard, IdParam, security, serviceCtx } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { TenantSchema, toTenant, UpdateTenantBody } from "./schema.ts";

const route = createRoute({
  method: "patch",
  path: "/v1/tenants/{id}",
  tags: ["tenants"],
  summary: "Rename a tenant or replace its metadata",
  security,
  middleware: [guard({ operator: true, scopes: ["tenants:admin"] })] as const,
  request: {
    params: IdParam("ten", "01JF3Z8Q4K2M6N8P0R2T4V6X8Z"),
    body: { required: true, content: { "application/json": { schema: UpdateTenantBody } } },
  },
  responses: {
    200: { description: "The updated tenant", content: { "application/json": { schema: TenantSchema } } },
    ...errorResponses,
  },
});

export function registerUpdateTenant(r: OpenAPIHono<AppEnv>): void {
  r.openapi(route, async (c) => {
    const tenant = await updateTenant(serviceCtx(c), c.req.valid("param").id, c.req.valid("json"));
    return c.json(toTenant(tenant), 200);
  });
}
