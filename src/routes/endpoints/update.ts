import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { updateEndpoint } from "../../services/endpoints/update.ts";
import { errorResponses, guard, IdParam, security, serviceCtx, unprocessableResponse } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { EndpointSchema, UpdateEndpointBody } from "./schema.ts";

const route = createRoute({
  method: "patch",
  path: "/v1/endpoints/{id}",
  tags: ["endpoints"],
  summary: "Update an endpoint",
  description:
    "Changes only the fields sent. A new URL applies to pending retries too. `disabled: true` cancels pending deliveries; `disabled: false` clears the disabled reason and the failure streak. Scope `endpoints:write`.",
  security,
  middleware: [guard({ scopes: ["endpoints:write"] })] as const,
  request: {
    params: IdParam("ep", "01JF3ZQ4C8M3W5V6X7Y8Z9A0B1"),
    body: { required: true, content: { "application/json": { schema: UpdateEndpointBody } } },
  },
  responses: {
    200: { description: "The updated endpoint", content: { "application/json": { schema: EndpointSchema } } },
    ...errorResponses,
    ...unprocessableResponse,
  },
});

export function registerUpdateEndpoint(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const updated = await updateEndpoint(serviceCtx(c), c.req.valid("param").id, c.req.valid("json"));
    return c.json(updated, 200);
  });
}
