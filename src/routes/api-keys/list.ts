import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { listApiKeys } from "../../services/api-keys/list.ts";
import { errorResponses, guard, pageOf, security, serviceCtx } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { ApiKeyListQuery, ApiKeyPage, toApiKey } from "./schema.ts";

const route = createRoute({
  method: "get",
  path: "/v1/api-keys",
  tags: ["api-keys"],
  summary: "List API keys, newest first (never their tokens)",
  security,
  middleware: [guard({ scopes: ["keys:read"] })] as const,
  request: { query: ApiKeyListQuery },
  responses: {
    200: { description: "A page of keys", content: { "application/json": { schema: ApiKeyPage } } },
    ...errorResponses,
  },
});

export function registerListApiKeys(r: OpenAPIHono<AppEnv>): void {
  r.openapi(route, async (c) => {
    const q = c.req.valid("query");
    const page = pageOf(await listApiKeys(serviceCtx(c), q), q.limit);
    return c.json({ ...page, data: page.data.map(toApiKey) }, 200);
  });
}
