import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { getRecovery } from "../../services/recover/get.ts";
import { errorResponses, guard, security, serviceCtx } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { RecoveryParams, RecoverySchema } from "./schema.ts";

const route = createRoute({
  method: "get",
  path: "/v1/endpoints/{id}/recover/{recoveryId}",
  tags: ["endpoints"],
  summary: "Progress of a recovery run",
  description: "Status, deliveries found (`total`) and re-sent so far (`redriven`). Scope `deliveries:read`.",
  security,
  middleware: [guard({ scopes: ["deliveries:read"] })] as const,
  request: { params: RecoveryParams },
  responses: {
    200: { description: "The run", content: { "application/json": { schema: RecoverySchema } } },
    ...errorResponses,
  },
});

export function registerGetRecovery(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { id, recoveryId } = c.req.valid("param");
    return c.json(await getRecovery(serviceCtx(c), id, recoveryId), 200);
  });
}
