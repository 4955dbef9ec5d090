import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { rotateApiKey } from "../../services/api-keys/rotate.ts";
import { conflictResponse, errorResponses, guard, IdParam, security, serviceCtx } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { RotateApiKeyBody, RotatedApiKey, toApiKey } from "./schema.ts";

const route = createRoute({
  method: "post",
  path: "/v1/api-keys/{id}/rotate",
  tags: ["api-keys"],
  summary: "Rotate an API key: a new token now, the old one valid for a grace period",
  description:
    "Creates a new key with the same name, tenant, scopes, allowlist and expiry, and sets the old key to expire after `gracePeriodSeconds`. The body may be omitted (defaults apply). A tenant may only rotate keys whose scopes it holds itself. A key rotates once: rotating it again (or a revoked or expired key) is a 409; the 409 for an already rotated key names its successor, the key to rotate next.",
  security,
  middleware: [guard({ scopes: ["keys:write"] })] as const,
  request: {
    params: IdParam("key", "01JF3Z8Q4K2M6N8P0R2T4V6X8Z"),
    body: { required: true, content: { "application/json": { schema: RotateApiKeyBody } } },
  },
  responses: {
    200: {
      description: "The new key with its token (shown once) and the old key",
      content: { "application/json": { schema: RotatedApiKey } },
    },
    ...errorResponses,
    ...conflictResponse,
  },
});

export function registerRotateApiKey(r: OpenAPIHono<AppEnv>): void {
  r.openapi(route, async (c) => {
    const { key, token, previous } = await rotateApiKey(
      serviceCtx(c),
      c.req.valid("param").id,
      c.req.valid("json"),
    );
    c.header("cache-control", "no-store");
    return c.json({ ...toApiKey(key), token, previous: toApiKey(previous) }, 200);
  });
}
