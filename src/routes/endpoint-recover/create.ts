import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { startRecovery } from "../../services/recover/start.ts";
import { conflictResponse, errorResponses, guard, IdParam, security, serviceCtx } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { RecoverBody, RecoverySchema } from "./schema.ts";

const route = createRoute({
  method: "post",
  path: "/v1/endpoints/{id}/recover",
  tags: ["endpoints"],
  summary: "Re-send an endpoint's failed deliveries since a time",
  description:
    "Starts a background run that re-sends every delivery to this endpoint created at or after `since` that was dead-lettered or cancelled (e.g. while the endpoint was disabled), each with a fresh retry schedule. Answers 202 with the run; poll its `Location` for progress. 409 while the endpoint is disabled. Scope `deliveries:write`.",
  security,
  middleware: [guard({ scopes: ["deliveries:write"] })] as const,
  request: {
    params: IdParam("ep", "01JF3ZQ4C8M3W5V6X7Y8Z9A0B1"),
    body: { required: true, content: { "application/json": { schema: RecoverBody } } },
  },
  responses: {
    202: { description: "The run, queued", content: { "application/json": { schema: RecoverySchema } } },
    ...errorResponses,
    ...conflictResponse,
  },
});

export function registerStartRecovery(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    const run = await startRecovery(serviceCtx(c), id, { since: new Date(c.req.valid("json").since) });
    c.header("location", `/v1/endpoints/${run.endpointId}/recover/${run.id}`);
    return c.json(run, 202);
  });
}
