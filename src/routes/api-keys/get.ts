import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { getApiKey } from "../../services/api-keys/get.ts";
import { errorResponses, guard, IdParam, security, serviceCtx } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { ApiKeySchema, toApiKey } from "./schema.ts";

const route = createRoute({
  method: "get",
  path: "/v1/api-keys/{id}",
  tags: ["api-keys"],
  summary: "Get an API key (never its token)",
  security,
  middleware: [guard({ scopes: ["keys:read"] })] as const,
  request: { params: IdParam("key", "01JF3Z8Q4K2M6N8P0R2T4V6X8Z") },
  responses: {
    200: { description: "The key", content: { "application/json": { schema: ApiKeySchema } } },
    ...errorResponses,
  },
});

export function registerGetApiKey(r: OpenAPIHono<AppEnv>): void {
  r.openapi(route, async (c) => {
    const key = await getApiKey(serviceCtx(c), c.req.valid("param").id);
    return c.json(toApiKey(key), 200);
  });
}
