import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { createEndpoint } from "../../services/endpoints/create.ts";
import { errorResponses, guard, security, serviceCtx, unprocessableResponse } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { CreateEndpointBody, EndpointWithSecretSchema } from "./schema.ts";

const route = createRoute({
  method: "post",
  path: "/v1/endpoints",
  tags: ["endpoints"],
  summary: "Register a webhook endpoint",
  description:
    "Creates an endpoint and its signing secret. The secret is in this response only; read it later with GET /v1/endpoints/{id}/secret. Scope `endpoints:write`.",
  security,
  middleware: [guard({ scopes: ["endpoints:write"] })] as const,
  request: { body: { required: true, content: { "application/json": { schema: CreateEndpointBody } } } },
  responses: {
    201: {
      description: "Created; `secret` is the signing secret",
      content: { "application/json": { schema: EndpointWithSecretSchema } },
    },
    ...errorResponses,
    ...unprocessableResponse,
  },
});

export function registerCreateEndpoint(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const created = await createEndpoint(serviceCtx(c), c.req.valid("json"));
    return c.json(created, 201);
  });
}
