import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { redriveDeadLetters } from "../../services/deliveries/redrive.ts";
import { errorResponses, guard, security, serviceCtx } from "../common.ts";
import type { AppEnv } from "../env.ts";
import { RedriveBody, RedriveResultSchema } from "./schema.ts";

const route = createRoute({
  method: "post",
  path: "/v1/dead-letters/redrive",
  tags: ["dead letters"],
  summary: "Redrive dead deliveries",
  description:
    "Starts a fresh retry cycle for every matching dead delivery (by ids, endpoint and/or dead-lettered since). A redriven delivery that fails again is dead-lettered again. With `deliveryIds`, every distinct id is accounted for in the answer: counted in `redriven` or `skipped` (dead, but its endpoint is disabled or deleted), or listed in `notFound` (unknown or not yours) or `notDead` (not a matching dead letter). `notFound` and `notDead` are empty without `deliveryIds`. Scope `deliveries:write`.",
  security,
  middleware: [guard({ scopes: ["deliveries:write"] })] as const,
  request: { body: { required: true, content: { "application/json": { schema: RedriveBody } } } },
  responses: {
    202: { description: "Queued", content: { "application/json": { schema: RedriveResultSchema } } },
    ...errorResponses,
  },
});

export function registerRedrive(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const body = c.req.valid("json");
    const result = await redriveDeadLetters(serviceCtx(c), {
      ...body,
      since: body.since ? new Date(body.since) : undefined,
    });
    return c.json(result, 202);
  });
}
