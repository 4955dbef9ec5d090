import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { listTenants } from "../../services/tenants/list.ts";
import { errorResponses, guard, pageOf, security, serviceCtx } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { TenantListQuery, TenantPage, toTenant } from "./schema.ts";

const route = createRoute({
  method: "get",
  path: "/v1/tenants",
  tags: ["tenants"],
  summary: "List tenants, newest first",
  security,
  middleware: [guard({ operator: true, scopes: ["tenants:admin"] })] as const,
  request: { query: TenantListQuery },
  responses: {
    200: { description: "A page of tenants", content: { "application/json": { schema: TenantPage } } },
    ...errorResponses,
  },
});

export function registerListTenants(r: OpenAPIHono<AppEnv>): void {
  r.openapi(route, async (c) => {
    const q = c.req.valid("query");
    const page = pageOf(await listTenants(serviceCtx(c), q), q.limit);
    return c.json({ ...page, data: page.data.map(toTenant) }, 200);
  });
}
