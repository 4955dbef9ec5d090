import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { deleteEndpoint } from "../../services/endpoints/delete.ts";
import { errorResponses, guard, IdParam, security, serviceCtx } from "../common.ts";
import type { AppEnv } from "../env.ts";

const route = createRoute({
  method: "delete",
  path: "/v1/endpoints/{id}",
  tags: ["endpoints"],
  summary: "Delete an endpoint",
  description:
    "Soft delete: pending deliveries are cancelled (no further requests) and the delivery log stays readable. Scope `endpoints:write`.",
  security,
  middleware: [guard({ scopes: ["endpoints:write"] })] as const,
  request: { params: IdParam("ep", "01JF3ZQ4C8M3W5V6X7Y8Z9A0B1") },
  responses: { 204: { description: "Deleted" }, ...errorResponses },
});

export function registerDeleteEndpoint(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    await deleteEndpoint(serviceCtx(c), c.req.valid("param").id);
    return c.body(null, 204);
  });
}
