import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { listEndpoints } from "../../services/endpoints/list.ts";
import { errorResponses, guard, pageOf, pageSchema, security, serviceCtx } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { EndpointSchema, ListEndpointsQuery } from "./schema.ts";

const route = createRoute({
  method: "get",
  path: "/v1/endpoints",
  tags: ["endpoints"],
  summary: "List endpoints",
  description:
    "Newest first, cursor-paginated. Tenants see their own; operators all (or one tenant's). Scope `endpoints:read`.",
  security,
  middleware: [guard({ scopes: ["endpoints:read"] })] as const,
  request: { query: ListEndpointsQuery },
  responses: {
    200: {
      description: "A page of endpoints",
      content: { "application/json": { schema: pageSchema(EndpointSchema).openapi("EndpointPage") } },
    },
    ...errorResponses,
  },
});

export function registerListEndpoints(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const q = c.req.valid("query");
    return c.json(pageOf(await listEndpoints(serviceCtx(c), q), q.limit), 200);
  });
}
