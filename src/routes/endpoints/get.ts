import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { getEndpoint } from "../../services/endpoints/get.ts";
import { errorResponses, guard, IdParam, security, serviceCtx } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { EndpointSchema } from "./schema.ts";

const route = createRoute({
  method: "get",
  path: "/v1/endpoints/{id}",
  tags: ["endpoints"],
  summary: "Get an endpoint",
  description: "Values of sensitive custom headers are masked. Scope `endpoints:read`.",
  security,
  middleware: [guard({ scopes: ["endpoints:read"] })] as const,
  request: { params: IdParam("ep", "01JF3ZQ4C8M3W5V6X7Y8Z9A0B1") },
  responses: {
    200: { description: "The endpoint", content: { "application/json": { schema: EndpointSchema } } },
    ...errorResponses,
  },
});

export function registerGetEndpoint(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    return c.json(await getEndpoint(serviceCtx(c), c.req.valid("param").id), 200);
  });
}
