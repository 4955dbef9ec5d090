import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { revokeApiKey } from "../../services/api-keys/revoke.ts";
import { errorResponses, guard, IdParam, security, serviceCtx } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { ApiKeySchema, toApiKey } from "./schema.ts";

const route = createRoute({
  method: "post",
  path: "/v1/api-keys/{id}/revoke",
  tags: ["api-keys"],
  summary: "Revoke an API key, effective immediately",
  description: "Idempotent: revoking a revoked key returns it unchanged.",
  security,
  middleware: [guard({ scopes: ["keys:write"] })] as const,
  request: { params: IdParam("key", "01JF3Z8Q4K2M6N8P0R2T4V6X8Z") },
  responses: {
    200: { description: "The revoked key", content: { "application/json": { schema: ApiKeySchema } } },
    ...errorResponses,
  },
});

export function registerRevokeApiKey(r: OpenAPIHono<AppEnv>): void {
  r.openapi(route, async (c) => {
    const key = await revokeApiKey(serviceCtx(c), c.req.valid("param").id);
    return c.json(toApiKey(key), 200);
  });
}
