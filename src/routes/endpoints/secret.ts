import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { rotateEndpointSecret } from "../../services/endpoints/rotate-secret.ts";
import { getEndpointSecret } from "../../services/endpoints/secret.ts";
import { errorResponses, guard, IdParam, security, serviceCtx } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { RotatedSecretSchema, RotateSecretBody, SecretSchema } from "./schema.ts";

const params = IdParam("ep", "01JF3ZQ4C8M3W5V6X7Y8Z9A0B1");

const getRoute = createRoute({
  method: "get",
  path: "/v1/endpoints/{id}/secret",
  tags: ["endpoints"],
  summary: "Read the current signing secret",
  description: "Sensitive: needs scope `endpoints:write`.",
  security,
  middleware: [guard({ scopes: ["endpoints:write"] })] as const,
  request: { params },
  responses: {
    200: { description: "The current secret", content: { "application/json": { schema: SecretSchema } } },
    ...errorResponses,
  },
});

const rotateRoute = createRoute({
  method: "post",
  path: "/v1/endpoints/{id}/secret/rotate",
  tags: ["endpoints"],
  summary: "Rotate the signing secret",
  description:
    "The new secret signs at once; the old one keeps signing for `gracePeriodSeconds` (default 24 h, max 7 days), so deliveries carry one `v1,` signature per active secret. At most 10 old secrets are kept. Scope `endpoints:write`.",
  security,
  middleware: [guard({ scopes: ["endpoints:write"] })] as const,
  request: {
    params,
    body: { required: false, content: { "application/json": { schema: RotateSecretBody } } },
  },
  responses: {
    200: { description: "The new secret", content: { "application/json": { schema: RotatedSecretSchema } } },
    ...errorResponses,
  },
});

export function registerEndpointSecret(app: OpenAPIHono<AppEnv>): void {
  app.openapi(getRoute, async (c) => {
    return c.json(await getEndpointSecret(serviceCtx(c), c.req.valid("param").id), 200);
  });
  app.openapi(rotateRoute, async (c) => {
    const rotated = await rotateEndpointSecret(serviceCtx(c), c.req.valid("param").id, c.req.valid("json"));
    return c.json(rotated, 200);
  });
}
