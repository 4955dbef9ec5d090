import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { createTenant } from "../../services/tenants/create.ts";
import { errorResponses, guard, security, serviceCtx } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { CreateTenantBody, TenantSchema, toTenant } from "./schema.ts";

const route = createRoute({
  method: "post",
  path: "/v1/tenants",
  tags: ["tenants"],
  summary: "Create a tenant",
  description: "Operator only (`tenants:admin`). A tenant is a partner app with its own keys and endpoints.",
  security,
  middleware: [guard({ operator: true, scopes: ["tenants:admin"] })] as const,
  request: { body: { required: true, content: { "application/json": { schema: CreateTenantBody } } } },
  responses: {
    201: { description: "Created", content: { "application/json": { schema: TenantSchema } } },
    ...errorResponses,
  },
});

export function registerCreateTenant(r: OpenAPIHono<AppEnv>): void {
  r.openapi(route, async (c) => {
    const tenant = await createTenant(serviceCtx(c), c.req.valid("json"));
    return c.json(toTenant(tenant), 201);
  });
}
