import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { createApiKey } from "../../services/api-keys/create.ts";
import { errorResponses, guard, security, serviceCtx, unprocessableResponse } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { ApiKeyWithToken, CreateApiKeyBody, toApiKey } from "./schema.ts";

const route = createRoute({
  method: "post",
  path: "/v1/api-keys",
  tags: ["api-keys"],
  summary: "Create an API key (the token is shown once)",
  description:
    "Operators create operator keys (no `tenantId`) or keys for a tenant. A tenant (`keys:write`) creates keys for itself, with scopes it holds; operator-only scopes are never granted to tenant keys. A `tenantId` that names no live tenant is a 422 for operators; for a tenant, any id but its own is a 404, as for an id that does not exist.",
  security,
  middleware: [guard({ scopes: ["keys:write"] })] as const,
  request: { body: { required: true, content: { "application/json": { schema: CreateApiKeyBody } } } },
  responses: {
    201: { description: "Created", content: { "application/json": { schema: ApiKeyWithToken } } },
    ...errorResponses,
    ...unprocessableResponse,
  },
});

export function registerCreateApiKey(r: OpenAPIHono<AppEnv>): void {
  r.openapi(route, async (c) => {
    const { key, token } = await createApiKey(serviceCtx(c), c.req.valid("json"));
    c.header("cache-control", "no-store");
    return c.json({ ...toApiKey(key), token }, 201);
  });
}
